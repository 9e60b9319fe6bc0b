import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CameraSectionSchema } from '../../../config/schema/camera.ts';
import { FrameAnalyzer, manifestsFor, plateShaped } from '../../../device-drivers/camera/analyzer.ts';
import { silentLogger } from '../../../gateway/core/logger.ts';
import { PPOCR_DET, PPOCR_REC } from '../../../models/manifest.ts';
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
