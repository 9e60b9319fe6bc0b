import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alignFace, BlazeFaceDetector } from '../../models/blazeface.ts';
import { FaceEmbedder, FaceGallery, l2normalize } from '../../models/embedding.ts';
import { decodeImage } from '../../models/image.ts';
import { BLAZEFACE_FRONT, embeddingManifest } from '../../models/manifest.ts';
import { loadModel } from '../../models/registry.ts';
import { Store } from '../../gateway/store/store.ts';
import { writeTinyEmbeddingModel } from './tiny-embedding.ts';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'images');

// Plumbing only: the model is a random projection built here, not a face recogniser.
describe('face embedding slot (plumbing, not recognition quality)', () => {
  it('loads an installer model by hash, embeds an aligned 112×112 face to a unit vector and matches it 1:N', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gg-emb-'));
    const { path, sha256 } = writeTinyEmbeddingModel(dir);
    const manifest = embeddingManifest({ path, sha256, inputName: 'input', outputName: 'output', licence: 'test', threshold: 0.9 });
    const embedder = new FaceEmbedder(await loadModel(manifest, {}));
    const detector = new BlazeFaceDetector(await loadModel(BLAZEFACE_FRONT, {}), { minScore: 0.75, nmsIou: 0.3, maxDetections: 64 });

    const astronaut = await decodeImage(readFileSync(join(fixtures, 'astronaut.jpg')), 1280);
    const [face] = await detector.detect(astronaut);
    const vector = await embedder.embed(alignFace(astronaut, face!, 112));
    expect(vector).toHaveLength(16);
    expect(Math.hypot(...vector)).toBeCloseTo(1, 5);

    // A crop of another picture through the same warp: a different vector.
    const cat = await decodeImage(readFileSync(join(fixtures, 'chelsea.jpg')), 1280);
    const other = await embedder.embed(alignFace(cat, { ...face!, keypoints: face!.keypoints.map(([x, y]) => [x * 0.6, y * 0.6] as [number, number]) }, 112));

    const store = Store.open(join(dir, 'gg.db'));
    const gallery = new FaceGallery(store);
    await gallery.enroll('face-astronaut', vector, manifest.id, 0);
    await gallery.enroll('face-other', other, manifest.id, 0);
    expect(gallery.match(vector, 0.9)).toEqual({ faceId: 'face-astronaut', similarity: expect.closeTo(1, 5) });
    expect(gallery.match(other, 0.9)?.faceId).toBe('face-other');
    // A vector far from both is no match at a strict threshold.
    const orthogonal = l2normalize(vector.map((v, i) => (i % 2 ? v : -v)));
    expect(gallery.match(orthogonal, 0.99)).toBeNull();

    // The gallery survives a restart (SQLite), byte for byte.
    const reloaded = new FaceGallery(store);
    reloaded.load();
    expect(reloaded.size).toBe(2);
    expect(reloaded.match(vector, 0.9)?.faceId).toBe('face-astronaut');
    await expect(gallery.enroll('bad', [1, 2, 3], manifest.id, 0)).rejects.toThrow(/dimensions/);
    store.close();
  });

  it('refuses an embedding file whose hash differs from the one the installer pinned', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gg-emb-'));
    const { path } = writeTinyEmbeddingModel(dir);
    const manifest = embeddingManifest({ path, sha256: '0'.repeat(64), inputName: 'input', outputName: 'output', licence: 'test', threshold: 0.5 });
    await expect(loadModel(manifest, {})).rejects.toThrow(/model face-embedding: sha256 mismatch for .*tiny-embedding\.onnx/);
  });
});
