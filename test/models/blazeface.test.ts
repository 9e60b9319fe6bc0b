import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { alignedCropArea, alignFace, BACK_ANCHORS, BlazeFaceDetector, decodeDetections, faceQuality, FRONT_ANCHORS, generateAnchors, letterboxTensor, sigmoid, weightedNms } from '../../models/blazeface.ts';
import { decodeImage, iou, letterboxShrink, similarityTransform, type RgbImage } from '../../models/image.ts';
import { BLAZEFACE_BACK, BLAZEFACE_FRONT } from '../../models/manifest.ts';
import { loadModel } from '../../models/registry.ts';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'images');

/**
 * Reference face of astronaut.png (512×512), annotated by hand from the picture: the region
 * BlazeFace frames (brows to chin, cheek to cheek). Tolerance: each edge within 12 px (13% of
 * the face width); eyes within 8 px of the annotated pupils.
 */
const ASTRONAUT_FACE = { xmin: 176, ymin: 78, xmax: 274, ymax: 178 };
const ASTRONAUT_EYES = [
  [203, 102],
  [248, 106],
];
const EDGE_TOLERANCE_PX = 12;
const EYE_TOLERANCE_PX = 8;

describe('BlazeFace anchors, decoding and weighted NMS', () => {
  it('makes 896 anchors: 16×16×2 then 8×8×6 for front, the same grids for back', () => {
    for (const options of [FRONT_ANCHORS, BACK_ANCHORS]) {
      const anchors = generateAnchors(options);
      expect(anchors.length / 2).toBe(896);
      expect([anchors[0], anchors[1], anchors[2], anchors[3]]).toEqual([0.5 / 16, 0.5 / 16, 0.5 / 16, 0.5 / 16]);
      expect([anchors[4], anchors[5]]).toEqual([1.5 / 16, 0.5 / 16]); // x moves first
      expect([anchors[512 * 2], anchors[512 * 2 + 1]]).toEqual([0.5 / 8, 0.5 / 8]);
      expect([anchors[(512 + 6) * 2], anchors[(512 + 6) * 2 + 1]]).toEqual([1.5 / 8, 0.5 / 8]);
    }
  });

  it('decodes a box and keypoints relative to the anchor, in input pixels', () => {
    const anchors = Float32Array.from([0.25, 0.5]);
    const reg = new Float32Array(16);
    reg.set([12.8, -6.4, 32, 64, 0, 0, 12.8, 0]);
    const [d] = decodeDetections(Float32Array.from([2]), reg, anchors, 128, 0.5);
    expect(d!.score).toBeCloseTo(sigmoid(2));
    expect(d!.box.xmin).toBeCloseTo(0.35 - 0.125);
    expect(d!.box.ymax).toBeCloseTo(0.45 + 0.25);
    expect(d!.keypoints[1]).toEqual([expect.closeTo(0.35), expect.closeTo(0.5)]);
    expect(decodeDetections(Float32Array.from([-2]), reg, anchors, 128, 0.5)).toHaveLength(0);
    expect(sigmoid(1e6)).toBe(sigmoid(100)); // clamped like MediaPipe
  });

  it('weighted NMS merges a cluster into its score-weighted mean and keeps the top score', () => {
    const kp = (x: number): [number, number][] => [[x, 0]];
    const out = weightedNms(
      [
        { score: 0.9, box: { xmin: 0, ymin: 0, xmax: 1, ymax: 1 }, keypoints: kp(0) },
        { score: 0.6, box: { xmin: 0.1, ymin: 0, xmax: 1.1, ymax: 1 }, keypoints: kp(1) },
        { score: 0.8, box: { xmin: 5, ymin: 5, xmax: 6, ymax: 6 }, keypoints: kp(5) },
      ],
      0.3,
      64,
    );
    expect(out).toHaveLength(2);
    expect(out[0]!.score).toBe(0.9);
    expect(out[0]!.box.xmin).toBeCloseTo((0 * 0.9 + 0.1 * 0.6) / 1.5);
    expect(out[0]!.keypoints[0]![0]).toBeCloseTo(0.6 / 1.5);
    expect(out[1]!.box.xmin).toBe(5);
  });
});

describe('BlazeFace letterbox into a reused buffer', () => {
  const image = (w: number, h: number): RgbImage => ({ data: Buffer.alloc(w * h * 3, 255), width: w, height: h, channels: 3 });

  it('clears what the buffer held: the pad reads 0, the picture as without it (both paths)', () => {
    for (const [src, size] of [[image(100, 50), 128], [image(400, 200), 128]] as const) {
      const fresh = src.width > size ? letterboxShrink(src, size).tensor : letterboxTensor(src, size).tensor;
      const stale = new Float32Array(size * size * 3).fill(7);
      const reused = src.width > size ? letterboxShrink(src, size, stale).tensor : letterboxTensor(src, size, stale).tensor;
      expect(reused).toBe(stale);
      expect([...reused]).toEqual([...fresh]);
      expect(reused[0]).toBe(0); // top-left corner is pad
    }
  });

  it('refuses a buffer of the wrong length', () => {
    expect(() => letterboxTensor(image(10, 10), 128, new Float32Array(5))).toThrow(/not 128 × 128 × 3/);
  });
});

describe('BlazeFace on real photos', () => {
  let astronaut: RgbImage;
  let cat: RgbImage;
  const detectors: Record<string, BlazeFaceDetector> = {};

  beforeAll(async () => {
    astronaut = await decodeImage(readFileSync(join(fixtures, 'astronaut.jpg')), 1280);
    cat = await decodeImage(readFileSync(join(fixtures, 'chelsea.jpg')), 1280);
    for (const m of [BLAZEFACE_FRONT, BLAZEFACE_BACK]) detectors[m.id] = new BlazeFaceDetector(await loadModel(m, {}), { minScore: 0.75, nmsIou: 0.3, maxDetections: 64 });
  });

  for (const id of ['blazeface-front', 'blazeface-back']) {
    it(`${id}: one face in astronaut.png, box and eyes within tolerance`, async () => {
      const faces = await detectors[id]!.detect(astronaut);
      expect(faces).toHaveLength(1);
      const [face] = faces;
      for (const edge of ['xmin', 'ymin', 'xmax', 'ymax'] as const) expect(Math.abs(face!.box[edge] - ASTRONAUT_FACE[edge])).toBeLessThanOrEqual(EDGE_TOLERANCE_PX);
      expect(iou(face!.box, ASTRONAUT_FACE)).toBeGreaterThan(0.75);
      ASTRONAUT_EYES.forEach(([x, y], i) => expect(Math.hypot(face!.keypoints[i]![0] - x!, face!.keypoints[i]![1] - y!)).toBeLessThanOrEqual(EYE_TOLERANCE_PX));
      // Nose between the eyes and above the mouth.
      expect(face!.keypoints[2]![1]).toBeGreaterThan(face!.keypoints[0]![1]);
      expect(face!.keypoints[3]![1]).toBeGreaterThan(face!.keypoints[2]![1]);
      const q = faceQuality(face!);
      expect(q.widthPx).toBeGreaterThan(80);
      expect(q.frontal).toBeGreaterThan(0.5);
      expect(q.score).toBeGreaterThan(0.5);
    });

    it(`${id}: no face in chelsea.png (a cat) at score 0.75`, async () => {
      expect(await detectors[id]!.detect(cat)).toEqual([]);
    });
  }

  it('finds the same face at the same place in a letterboxed 1080p frame (mapping back through the pad)', async () => {
    const sharp = (await import('sharp')).default;
    const frame = await sharp({ create: { width: 1920, height: 1080, channels: 3, background: { r: 120, g: 120, b: 120 } } })
      .composite([{ input: readFileSync(join(fixtures, 'astronaut.jpg')), left: 700, top: 300 }])
      .jpeg()
      .toBuffer();
    const image = await decodeImage(frame, 1920);
    const [face] = await detectors['blazeface-back']!.detect(image);
    const shifted = { xmin: ASTRONAUT_FACE.xmin + 700, ymin: ASTRONAUT_FACE.ymin + 300, xmax: ASTRONAUT_FACE.xmax + 700, ymax: ASTRONAUT_FACE.ymax + 300 };
    expect(iou(face!.box, shifted)).toBeGreaterThan(0.6);
  });

  it('aligns the crop: eyes, nose and mouth land on the ArcFace template', async () => {
    const [face] = await detectors['blazeface-front']!.detect(astronaut);
    const crop = alignFace(astronaut, face!, 112);
    expect([crop.width, crop.height]).toEqual([112, 112]);
    const template: [number, number][] = [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [56.1396, 92.2848]];
    const m = similarityTransform(face!.keypoints.slice(0, 4), template);
    const [lx, ly] = [m[0] * face!.keypoints[0]![0] + m[1] * face!.keypoints[0]![1] + m[2], m[3] * face!.keypoints[0]![0] + m[4] * face!.keypoints[0]![1] + m[5]];
    expect(Math.hypot(lx - 38.29, ly - 51.7)).toBeLessThan(6);
    // The crop is a face, not padding: the same detector finds a face in it.
    const again = await detectors['blazeface-front']!.detect(crop);
    expect(again.length).toBeGreaterThanOrEqual(1);
  });

  it('alignedCropArea holds every pixel the crop samples: blacking out the rest changes nothing', async () => {
    const [face] = await detectors['blazeface-front']!.detect(astronaut);
    for (const size of [112, 160]) {
      const area = alignedCropArea(face!, size);
      const masked = Buffer.alloc(astronaut.data.length);
      for (let y = Math.max(0, Math.floor(area.ymin)); y < Math.min(astronaut.height, Math.ceil(area.ymax)); y++) {
        const from = (y * astronaut.width + Math.max(0, Math.floor(area.xmin))) * 3;
        const to = (y * astronaut.width + Math.min(astronaut.width, Math.ceil(area.xmax))) * 3;
        astronaut.data.copy(masked, from, from, to);
      }
      const crop = alignFace({ ...astronaut, data: masked }, face!, size);
      expect(crop.data.equals(alignFace(astronaut, face!, size).data)).toBe(true);
      // And it is the crop's footprint, not the whole image: a face in a 1280 px photo.
      expect(area.xmax - area.xmin).toBeLessThan(astronaut.width / 2);
    }
  });
});
