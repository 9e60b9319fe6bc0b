import { describe, expect, it } from 'vitest';
import { CameraSectionSchema } from '../../../config/schema/camera.ts';
import { manifestsFor, plateShaped } from '../../../device-drivers/camera/analyzer.ts';

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
