import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../models/image.ts';
import { PPOCR_DET, PPOCR_REC } from '../../models/manifest.ts';
import { pickPlate } from '../../models/plates.ts';
import { ctcDecode, dbPostprocess, detInput, DICTIONARY_ENTRIES, loadDictionary, minAreaRect, PaddleOcr, unclip } from '../../models/ppocr.ts';
import { loadModel, type LoadedModel } from '../../models/registry.ts';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'images');

describe('det input (cv2.resize INTER_LINEAR, BGR, ImageNet mean/std, CHW)', () => {
  const image = (w: number, h: number, px: (x: number, y: number) => [number, number, number]) => {
    const data = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(px(x, y), (y * w + x) * 3);
    return { data, width: w, height: h, channels: 3 as const };
  };
  const pattern = (x: number, y: number): [number, number, number] => [(x * 37 + y * 11) % 256, (x * 5 + y * 53) % 256, (x * y) % 256];

  it('at the same size it is the plain normalisation', () => {
    const img = image(64, 32, pattern);
    const plane = 64 * 32;
    const plain = new Float32Array(3 * plane);
    for (let i = 0; i < plane; i++) {
      const [r, g, b] = [img.data[i * 3]!, img.data[i * 3 + 1]!, img.data[i * 3 + 2]!];
      [plain[i], plain[plane + i], plain[2 * plane + i]] = [(b / 255 - 0.485) / 0.229, (g / 255 - 0.456) / 0.224, (r / 255 - 0.406) / 0.225];
    }
    const out = detInput(img, 64, 32);
    for (let i = 0; i < 3 * plane; i++) expect(out[i]).toBeCloseTo(plain[i]!, 5);
  });

  it('halving averages each 2×2 block (half-pixel centres), channel planes B, G, R', () => {
    const img = image(64, 32, pattern);
    const out = detInput(img, 32, 16);
    const plane = 32 * 16;
    for (const [x, y] of [[0, 0], [5, 7], [31, 15]] as const) {
      const block = [pattern(2 * x, 2 * y), pattern(2 * x + 1, 2 * y), pattern(2 * x, 2 * y + 1), pattern(2 * x + 1, 2 * y + 1)];
      const mean = (c: number) => block.reduce((n, p) => n + p[c]!, 0) / 4;
      expect(out[y * 32 + x]).toBeCloseTo((mean(2) / 255 - 0.485) / 0.229, 4);
      expect(out[plane + y * 32 + x]).toBeCloseTo((mean(1) / 255 - 0.456) / 0.224, 4);
      expect(out[2 * plane + y * 32 + x]).toBeCloseTo((mean(0) / 255 - 0.406) / 0.225, 4);
    }
  });
});

describe('PP-OCRv4 dictionary and CTC', () => {
  let rec: LoadedModel;
  beforeAll(async () => {
    rec = await loadModel(PPOCR_REC, {});
  });

  it('loads 6623 keys without trimming: entry 5709 is U+3000 and the classes are blank + keys + space', () => {
    const text = rec.assets.dictionary!.toString('utf8');
    const classes = loadDictionary(text);
    expect(classes).toHaveLength(DICTIONARY_ENTRIES + 2);
    expect(classes[0]).toBe('');
    expect(classes[5709 + 1]).toBe('\u3000');
    expect(classes[DICTIONARY_ENTRIES + 1]).toBe(' ');
    for (const ch of '闽粤京·0123456789ABCDEFGHJKLMNPQRSTUVWXYZ挂学警港澳') expect(classes.indexOf(ch)).toBeGreaterThan(0);
    // The pitfall: trimming lines drops U+3000 and shifts every later class.
    const trimmed = text.split('\n').map((l) => l.trim()).filter(Boolean).join('\n');
    expect(() => loadDictionary(trimmed)).toThrow(/expected 6623 entries, found 6622/);
  });

  it('greedy CTC drops blanks and repeats and averages the kept maxima', () => {
    const dict = ['', 'a', 'b'];
    // steps: a a blank a b b  → "aab"
    const rows = [[0.1, 0.8, 0.1], [0.1, 0.6, 0.3], [0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.3, 0.1, 0.6]];
    const { text, score } = ctcDecode(Float32Array.from(rows.flat()), 6, 3, 0, dict);
    expect(text).toBe('aab');
    expect(score).toBeCloseTo((0.8 + 0.7 + 0.8) / 3);
  });
});

describe('DB geometry', () => {
  it('minAreaRect orders tl, tr, br, bl and finds the short side of a rotated rectangle', () => {
    const pts: [number, number][] = [];
    const angle = (20 * Math.PI) / 180;
    for (let u = 0; u <= 40; u++) for (let v = 0; v <= 10; v++) pts.push([100 + u * Math.cos(angle) - v * Math.sin(angle), 50 + u * Math.sin(angle) + v * Math.cos(angle)]);
    const { box, shortSide } = minAreaRect(pts);
    expect(shortSide).toBeCloseTo(10, 5);
    expect(box[0][0]).toBeLessThan(box[1][0]);
    expect(box[3][1]).toBeGreaterThan(box[0][1]);
  });

  it('the labelling arrays kept between calls do not carry labels over: a small map after a large one', () => {
    const map = (w: number, h: number, rects: [number, number, number, number][]) => {
      const pred = new Float32Array(w * h);
      for (const [x0, y0, x1, y1] of rects) for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) pred[y * w + x] = 0.9;
      return pred;
    };
    const options = { bitmap: 0.3, boxScore: 0.6, unclipRatio: 1.5, minSize: 3, maxCandidates: 1000 };
    const small = map(64, 32, [[8, 8, 40, 20]]);
    const alone = dbPostprocess(small, 64, 32, options, 1, 1, 64, 32);
    expect(alone).toHaveLength(1);
    dbPostprocess(map(200, 100, [[0, 0, 200, 100]]), 200, 100, options, 1, 1, 200, 100);
    expect(dbPostprocess(small, 64, 32, options, 1, 1, 64, 32)).toEqual(alone);
  });

  it('unclip grows a box by area·ratio/perimeter', () => {
    const grown = unclip([[0, 0], [100, 0], [100, 20], [0, 20]], 1.5);
    const d = (100 * 20 * 1.5) / 240; // 12.5
    const xs = grown.map((p) => p[0]), ys = grown.map((p) => p[1]);
    expect(Math.min(...xs)).toBeCloseTo(-d, 0);
    expect(Math.max(...ys)).toBeCloseTo(20 + d, 0);
  });
});

describe('plates read exactly from rendered images', () => {
  let ocr: PaddleOcr;
  beforeAll(async () => {
    const t = PPOCR_DET.thresholds;
    ocr = new PaddleOcr(await loadModel(PPOCR_DET, {}), await loadModel(PPOCR_REC, {}), {
      bitmap: t.bitmap!, boxScore: t.boxScore!, unclipRatio: t.unclipRatio!, minSize: t.minSize!, maxCandidates: t.maxCandidates!, maxSide: 960, minLineScore: 0.5,
    });
  });

  const cases = [
    ['plate-blue-12345.png', '闽A·12345', 'regular'],
    ['plate-green-D12345.png', '闽A·D12345', 'new-energy-small'],
    ['plate-blue-88888.png', '闽A·88888', 'regular'],
  ] as const;

  for (const [file, plate, kind] of cases) {
    it(`${file} → ${plate}`, async () => {
      const image = await decodeImage(readFileSync(join(fixtures, file)), 1280);
      const reading = pickPlate(await ocr.read(image), 0.9);
      expect(reading).toMatchObject({ plate, kind });
    });

    it(`${file} inside a 720p frame → ${plate}`, async () => {
      const frame = await sharp({ create: { width: 1280, height: 720, channels: 3, background: { r: 80, g: 85, b: 90 } } })
        .composite([{ input: await sharp(join(fixtures, file)).resize(220).toBuffer(), left: 300, top: 420 }])
        .jpeg({ quality: 85 })
        .toBuffer();
      const reading = pickPlate(await ocr.read(await decodeImage(frame, 1280)), 0.9);
      expect(reading?.plate).toBe(plate);
      const xs = reading!.line.box.points.map((p) => p[0]);
      expect(Math.min(...xs)).toBeGreaterThan(280);
      expect(Math.max(...xs)).toBeLessThan(540);
    });
  }

  it('buffers reused from read to read change nothing: a narrow line after a wide one, the same map twice', async () => {
    const image = await decodeImage(readFileSync(join(fixtures, 'plate-blue-12345.png')), 1280);
    const boxes = await ocr.detect(image);
    expect(boxes).toHaveLength(1);
    const narrow = boxes[0]!;
    const wide = { ...narrow, points: narrow.points.map(([x, y], i) => [i === 1 || i === 2 ? x + 160 : x, y]) as typeof narrow.points };
    // One batch of two lines is as wide as the wider: the narrower is padded with 0 on the right.
    const [, narrowSecond] = await ocr.recognize(image, [wide, narrow]);
    // Same batch size, so the same reused input: the narrow line now sits where the wide one's
    // pixels were, and its pad must read 0 again.
    const [narrowFirst] = await ocr.recognize(image, [narrow, wide]);
    expect([narrowFirst!.text, narrowFirst!.score]).toEqual([narrowSecond!.text, narrowSecond!.score]);
    expect(narrowFirst!.text).toBe('闽A·12345');
    expect(await ocr.detect(image)).toEqual(boxes);
  });

  it('finds no plate in a picture without one', async () => {
    const image = await decodeImage(readFileSync(join(fixtures, 'chelsea.jpg')), 1280);
    expect(pickPlate(await ocr.read(image), 0.9)).toBeNull();
  });
});
