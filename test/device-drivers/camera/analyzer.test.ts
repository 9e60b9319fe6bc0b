import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CameraSectionSchema } from '../../../config/schema/camera.ts';
import { FrameAnalyzer, manifestsFor, plateShaped, regionOf, regionPixels } from '../../../device-drivers/camera/analyzer.ts';
import { silentLogger } from '../../../gateway/core/logger.ts';
import { BLAZEFACE_BACK, PPOCR_DET, PPOCR_REC } from '../../../models/manifest.ts';
import { iou } from '../../../models/image.ts';
import { alignFace } from '../../../models/blazeface.ts';
import { ModelRegistry } from '../../../models/registry.ts';

const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'images');

/** A gate frame of the given size with the rendered plate 闽A·12345 in its lower half. */
async function gateFrame(width: number, height: number): Promise<Buffer> {
  const plate = await sharp(join(fixtures, 'plate-blue-12345.png')).resize(Math.round(width * 0.19)).toBuffer();
  return sharp({ create: { width, height, channels: 3, background: { r: 88, g: 92, b: 98 } } })
    .composite([{ input: plate, left: Math.round(width * 0.4), top: Math.round(height * 0.65) }])
    .jpeg({ quality: 90 })
    .toBuffer();
}

describe('camera analyzer helpers', () => {
  it('reads only plate-shaped text regions', () => {
    const rect = (w: number, h: number): [number, number][] => [[0, 0], [w, 0], [w, h], [0, h]];
    expect(plateShaped(rect(375, 68))).toBe(true); // a blue plate's characters
    expect(plateShaped(rect(60, 60))).toBe(false); // a square sign
    expect(plateShaped(rect(900, 40))).toBe(false); // a long banner
    expect(plateShaped(rect(40, 6))).toBe(false); // too small to read
  });

  it('loads only the models the configured cameras need', () => {
    const section = CameraSectionSchema.parse({});
    expect(manifestsFor(section, []).map((m) => m.id)).toEqual([]);
    expect(manifestsFor(section, [{ detect: ['face'], faceModel: 'front' }]).map((m) => m.id)).toEqual(['blazeface-front']);
    expect(manifestsFor(section, [{ detect: ['plate'], faceModel: 'back' }, { detect: ['face', 'plate'], faceModel: 'back' }]).map((m) => m.id)).toEqual(['blazeface-back', 'ppocr-v4-det', 'ppocr-v4-rec']);
    const withEmbedding = CameraSectionSchema.parse({ models: { embedding: { file: 'f.onnx', sha256: 'a'.repeat(64), licence: 'x' } } });
    expect(manifestsFor(withEmbedding, [{ detect: ['face'], faceModel: 'back' }]).map((m) => m.id)).toEqual(['blazeface-back', 'face-embedding']);
    expect(manifestsFor(withEmbedding, [{ detect: ['plate'], faceModel: 'back' }]).map((m) => m.id)).toEqual(['ppocr-v4-det', 'ppocr-v4-rec']);
  });
});

/** A textured 720p street frame (the cat photo, greyed) with plates pasted where given (left, top in px, 240 px wide). */
async function streetFrame(plates: { file: string; left: number; top: number }[]): Promise<Buffer> {
  const background = await sharp(join(fixtures, 'chelsea.jpg')).resize(1280, 720, { fit: 'cover' }).modulate({ saturation: 0.3 }).toBuffer();
  const pasted = await Promise.all(plates.map(async (p) => ({ input: await sharp(join(fixtures, p.file)).resize(240).toBuffer(), left: p.left, top: p.top })));
  return sharp(background).composite(pasted).jpeg({ quality: 88 }).toBuffer();
}

describe('plate region geometry', () => {
  it('rounds the drawn edges outwards to whole pixels and never yields an empty area', () => {
    expect(regionPixels({ left: 0, top: 0.5, right: 1, bottom: 1 }, 1280, 720)).toEqual({ xmin: 0, ymin: 360, xmax: 1280, ymax: 720 });
    expect(regionPixels({ left: 0.1001, top: 0.2501, right: 0.4999, bottom: 0.7499 }, 1000, 1000)).toEqual({ xmin: 100, ymin: 250, xmax: 500, ymax: 750 });
    expect(regionPixels({ left: 0.5, top: 0.5, right: 0.5001, bottom: 0.5001 }, 640, 360)).toEqual({ xmin: 320, ymin: 180, xmax: 321, ymax: 181 });
    expect(regionPixels({ left: 0.9999, top: 0.9999, right: 1, bottom: 1 }, 640, 360)).toEqual({ xmin: 639, ymin: 359, xmax: 640, ymax: 360 });
  });

  it('takes the region\'s pixels from the decoded frame, sharing them when the region spans the full width', () => {
    const width = 4, height = 3;
    const data = Buffer.from(Array.from({ length: width * height * 3 }, (_, i) => i));
    const image = { data, width, height, channels: 3 as const };
    const band = regionOf(image, { xmin: 0, ymin: 1, xmax: 4, ymax: 3 });
    expect([band.width, band.height]).toEqual([4, 2]);
    expect(band.data.buffer).toBe(data.buffer); // no copy
    expect([...band.data]).toEqual([...data.subarray(12, 36)]);
    const inner = regionOf(image, { xmin: 1, ymin: 1, xmax: 3, ymax: 2 });
    expect([inner.width, inner.height]).toEqual([2, 1]);
    expect([...inner.data]).toEqual([15, 16, 17, 18, 19, 20]);
  });
});

describe('camera analyzer: plate region (real JPEGs, real PP-OCR models)', () => {
  const registry = new ModelRegistry({ manifests: [PPOCR_DET, PPOCR_REC], intraOpThreads: 1, log: silentLogger() });
  let analyzer: FrameAnalyzer;
  beforeAll(async () => {
    await registry.start();
    analyzer = new FrameAnalyzer(registry, CameraSectionSchema.parse({}));
  }, 60_000);
  afterAll(async () => {
    await registry.stop();
  });

  const read = (jpeg: Buffer, plateRegion?: { left: number; top: number; right: number; bottom: number }) =>
    analyzer.analyze(jpeg, { detect: ['plate'], faceModel: 'back', ...(plateRegion ? { plateRegion } : {}) });
  /** Whole-frame pixels: the region's reading must land where the whole-frame reading does. */
  const within = (box: { xmin: number; ymin: number; xmax: number; ymax: number }, expected: typeof box, px: number) => {
    for (const side of ['xmin', 'ymin', 'xmax', 'ymax'] as const) expect(Math.abs(box[side] - expected[side]), side).toBeLessThanOrEqual(px);
  };

  it('reads the plate inside the region exactly and reports its box in whole-frame pixels', async () => {
    const frame = await streetFrame([{ file: 'plate-blue-12345.png', left: 540, top: 500 }]);
    const whole = await read(frame);
    expect(whole.plate?.plate).toBe('闽A·12345');
    // The lower half (full width: the region shares the frame's rows) and a lane box (rows copied).
    for (const region of [{ left: 0, top: 0.5, right: 1, bottom: 1 }, { left: 0.3, top: 0.55, right: 0.75, bottom: 0.95 }]) {
      const inRegion = await read(frame, region);
      expect(inRegion.plate?.plate, JSON.stringify(region)).toBe('闽A·12345');
      expect([inRegion.width, inRegion.height]).toEqual([1280, 720]);
      // Detection sees the region at a different scale than the whole frame, so its box may differ by a few pixels (≤ 8 px, 0.6 % of the width).
      within(inRegion.plate!.box, whole.plate!.box, 8);
      // The box is in the lower part of the frame (the plate's pixels are at x 540–780, y 500–576), not region-relative.
      expect(inRegion.plate!.box.xmin).toBeGreaterThan(530);
      expect(inRegion.plate!.box.ymin).toBeGreaterThan(490);
      expect(inRegion.plate!.box.ymax).toBeLessThan(590);
      expect(inRegion.plate!.crop.width).toBeGreaterThan(200);
    }
  });

  it('does not read a plate outside the region', async () => {
    const frame = await streetFrame([{ file: 'plate-blue-12345.png', left: 540, top: 500 }]);
    expect((await read(frame, { left: 0, top: 0, right: 1, bottom: 0.5 })).plate).toBeNull();
    expect((await read(frame, { left: 0, top: 0.5, right: 0.4, bottom: 1 })).plate).toBeNull();
  });

  it('of two plates in the frame, reads the one in the region', async () => {
    // A car in the lane (lower right) and one passing on the road behind (upper left).
    const frame = await streetFrame([
      { file: 'plate-blue-12345.png', left: 900, top: 560 },
      { file: 'plate-blue-88888.png', left: 120, top: 120 },
    ]);
    const lane = await read(frame, { left: 0.5, top: 0.6, right: 1, bottom: 1 });
    expect(lane.plate?.plate).toBe('闽A·12345');
    expect(lane.plate!.box.xmin).toBeGreaterThan(890);
    const road = await read(frame, { left: 0, top: 0, right: 0.5, bottom: 0.4 });
    expect(road.plate?.plate).toBe('闽A·88888');
    expect(road.plate!.box.xmax).toBeLessThan(370);
  });
});

describe('camera analyzer: working size per camera (real JPEGs, real PP-OCR models)', () => {
  const registry = new ModelRegistry({ manifests: [PPOCR_DET, PPOCR_REC], intraOpThreads: 1, log: silentLogger() });
  let analyzer: FrameAnalyzer;
  let frame720: Buffer;
  let frame1080: Buffer;

  beforeAll(async () => {
    await registry.start();
    analyzer = new FrameAnalyzer(registry, CameraSectionSchema.parse({}));
    [frame720, frame1080] = await Promise.all([gateFrame(1280, 720), gateFrame(1920, 1080)]);
  }, 60_000);
  afterAll(async () => {
    await registry.stop();
  });

  const plateAt = (jpeg: Buffer, maxSide?: number) => analyzer.analyze(jpeg, { detect: ['plate'], faceModel: 'back', ...(maxSide ? { maxSide } : {}) });

  it('a camera that sets no working size reads a 720p frame as decoded, and fits a 1080p one into intake.maxSide', async () => {
    const at720 = await plateAt(frame720);
    expect([at720.width, at720.height]).toEqual([1280, 720]);
    expect(at720.plate?.plate).toBe('闽A·12345');
    const at1080 = await plateAt(frame1080);
    expect([at1080.width, at1080.height]).toEqual([960, 540]);
    expect(at1080.plate?.plate).toBe('闽A·12345');
    // Smaller frames are never enlarged.
    const small = await analyzer.decode(await gateFrame(640, 360));
    expect([small.width, small.height]).toEqual([640, 360]);
  });

  it('a camera\'s own working size wins over the gateway\'s, for small and large frames alike', async () => {
    const at640 = await plateAt(frame720, 640);
    expect([at640.width, at640.height]).toEqual([640, 360]);
    const at1280 = await plateAt(frame1080, 1280);
    expect([at1280.width, at1280.height]).toEqual([1280, 720]);
    expect(at1280.plate?.plate).toBe('闽A·12345');
  });

  it('the gateway-wide intake.maxSide still applies to large frames of cameras that set none', async () => {
    const gateway640 = new FrameAnalyzer(registry, CameraSectionSchema.parse({ intake: { maxSide: 640 } }));
    expect(await gateway640.decode(frame1080)).toMatchObject({ width: 640, height: 360 });
    expect(await gateway640.decode(frame720)).toMatchObject({ width: 1280, height: 720 });
  });
});

describe('camera analyzer: faces found on a small decode, cropped from the working size (real JPEG, real BlazeFace)', () => {
  const registry = new ModelRegistry({ manifests: [BLAZEFACE_BACK], intraOpThreads: 1, log: silentLogger() });
  let analyzer: FrameAnalyzer;
  let jpeg: Buffer;
  beforeAll(async () => {
    await registry.start();
    analyzer = new FrameAnalyzer(registry, CameraSectionSchema.parse({}));
    // A 1080p gate frame: the astronaut (one face) on the cat photo's texture.
    const background = await sharp(join(fixtures, 'chelsea.jpg')).resize(1920, 1080, { fit: 'cover' }).toBuffer();
    const person = await sharp(join(fixtures, 'astronaut.jpg')).resize(1080, 1080).toBuffer();
    jpeg = await sharp(background).composite([{ input: person, left: 420, top: 0 }]).jpeg({ quality: 85 }).toBuffer();
  });
  afterAll(() => registry.stop());

  it('decodes at 1.5× the detector input and reports the face where the working-size analysis finds it', async () => {
    const small = await analyzer.decodeForFaces(jpeg, 'back');
    expect(Math.max(small.image.width, small.image.height)).toBe(384); // 1.5 × 256
    expect([small.width, small.height]).toEqual([960, 540]); // the default working size of a 1080p frame
    const located = await analyzer.locateFaces(small.image, 'back', small.width, small.height);
    const reference = await analyzer.faces(await analyzer.decode(jpeg), 'back');
    expect(located).toHaveLength(1);
    expect(reference).toHaveLength(1);
    const [a, b] = [located[0]!.detection.box, reference[0]!.detection.box];
    expect(iou(a, b)).toBeGreaterThan(0.8);
    // Quality is judged at the working size, so the small decode does not make faces look worse.
    expect(located[0]!.quality.score).toBeCloseTo(reference[0]!.quality.score, 1);
  });

  it('crops the located face from the frame decoded at the working size', async () => {
    const small = await analyzer.decodeForFaces(jpeg, 'back');
    const [face] = await analyzer.locateFaces(small.image, 'back', small.width, small.height);
    const { crop, aligned112 } = await analyzer.cropFace(jpeg, face!, small);
    expect([crop.width, crop.height]).toEqual([112, 112]);
    expect(aligned112).toBeNull(); // no embedding model configured
    // The same aligned face as cropping the working-size analysis' own detection (pixels within a
    // few levels on average); a crop from unscaled small-decode coordinates would be background.
    const [reference] = await analyzer.faces(await analyzer.decode(jpeg), 'back');
    const meanDiff = (x: Buffer, y: Buffer) => x.reduce((n, v, i) => n + Math.abs(v - y[i]!), 0) / x.length;
    expect(meanDiff(crop.data, reference!.crop.data)).toBeLessThan(12);
    const wrong = await analyzer.cropFace(jpeg, face!, small.image);
    expect(meanDiff(wrong.crop.data, reference!.crop.data)).toBeGreaterThan(25);
    // Only the part of the frame the crop samples is decoded: the crop is the one the whole
    // working-size frame gives for the same detection, to within resampling phase.
    const whole = alignFace(await analyzer.decode(jpeg), face!.detection, 112);
    expect(meanDiff(crop.data, whole.data)).toBeLessThan(0.5);
  });
});
