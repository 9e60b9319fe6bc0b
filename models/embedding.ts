import ort from './onnxruntime.ts';
import type { Store } from '../gateway/store/store.ts';
import type { RgbImage } from './image.ts';
import type { LoadedModel } from './registry.ts';

/** ArcFace-style preprocessing of an aligned 112×112 crop: RGB, NCHW, (v - 127.5) / 128. */
export function embeddingTensor(face: RgbImage): Float32Array {
  const plane = face.width * face.height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    out[i] = (face.data[i * 3]! - 127.5) / 128;
    out[plane + i] = (face.data[i * 3 + 1]! - 127.5) / 128;
    out[2 * plane + i] = (face.data[i * 3 + 2]! - 127.5) / 128;
  }
  return out;
}

export function l2normalize(v: ArrayLike<number>): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const norm = Math.sqrt(sum) || 1;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / norm;
  return out;
}

/** The optional embedding slot: runs the installer's model and returns a unit vector. */
export class FaceEmbedder {
  constructor(private readonly model: LoadedModel) {}

  get modelId(): string {
    return this.model.manifest.id;
  }

  async embed(alignedFace: RgbImage): Promise<Float32Array> {
    if (alignedFace.width !== 112 || alignedFace.height !== 112) throw new Error(`embedding needs a 112×112 aligned face, got ${alignedFace.width}×${alignedFace.height}`);
    const input = this.model.manifest.inputs[0]!.name;
    const output = this.model.manifest.outputs[0]!.name;
    const out = await this.model.session.run({ [input]: new ort.Tensor('float32', embeddingTensor(alignedFace), [1, 3, 112, 112]) }, { transferInputs: true });
    // Some ArcFace exports are not L2-normalised (edge-models.md §5): normalise here, always.
    return l2normalize(out[output]!.data as Float32Array);
  }
}

export interface GalleryMatch {
  faceId: string;
  similarity: number;
}

/**
 * Enrolled faces (residents and watchlist subjects) by face id, the same id a watch entry of
 * type "face" or a resident's face credential names. 1:N matching is a dot product against
 * every unit vector: a community gallery of a few thousand faces takes well under a millisecond.
 */
export class FaceGallery {
  private entries = new Map<string, Float32Array>();

  constructor(private readonly store: Store) {}

  load(): void {
    this.entries.clear();
    for (const row of this.store.db.prepare('SELECT face_id, dims, vector FROM face_gallery').all() as { face_id: string; dims: number; vector: Buffer }[]) {
      const copy = new Uint8Array(row.vector).buffer;
      this.entries.set(row.face_id, new Float32Array(copy, 0, row.dims));
    }
  }

  get size(): number {
    return this.entries.size;
  }

  async enroll(faceId: string, vector: ArrayLike<number>, model: string, nowMs: number): Promise<void> {
    const unit = l2normalize(vector);
    const first = this.entries.values().next().value as Float32Array | undefined;
    if (first && first.length !== unit.length) throw new Error(`gallery vectors have ${first.length} dimensions, got ${unit.length}`);
    await this.store.writes.write((db) =>
      db
        .prepare('INSERT INTO face_gallery (face_id, model, dims, vector, created_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT(face_id) DO UPDATE SET model = excluded.model, dims = excluded.dims, vector = excluded.vector, created_ms = excluded.created_ms')
        .run(faceId, model, unit.length, Buffer.from(unit.buffer, unit.byteOffset, unit.byteLength), nowMs),
    );
    this.entries.set(faceId, unit);
  }

  async remove(faceId: string): Promise<void> {
    await this.store.writes.write((db) => db.prepare('DELETE FROM face_gallery WHERE face_id = ?').run(faceId));
    this.entries.delete(faceId);
  }

  /** The most similar enrolled face at or above the threshold (cosine of unit vectors). */
  match(vector: ArrayLike<number>, threshold: number): GalleryMatch | null {
    const unit = l2normalize(vector);
    let best: GalleryMatch | null = null;
    for (const [faceId, entry] of this.entries) {
      if (entry.length !== unit.length) continue;
      let dot = 0;
      for (let i = 0; i < unit.length; i++) dot += unit[i]! * entry[i]!;
      if (dot >= threshold && (!best || dot > best.similarity)) best = { faceId, similarity: dot };
    }
    return best;
  }
}
