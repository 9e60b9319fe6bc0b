import ort from './onnxruntime.ts';
import type { Logger } from '../gateway/core/logger.ts';
import type { Service } from '../gateway/core/service.ts';
import { WorkerSession } from './inference.ts';
import { ModelFileError, readVerified, type ModelManifest, type TensorSpec } from './manifest.ts';

export type { InferenceSession, Tensor } from './onnxruntime.ts';

export interface LoadedModel {
  manifest: ModelManifest;
  path: string;
  /** The model's session, on an inference thread of its own (see WorkerSession). */
  session: WorkerSession;
  /** Asset files (dictionaries) by name, hash-checked like the model. */
  assets: Record<string, Buffer>;
}

export interface RegistryOptions {
  manifests: ModelManifest[];
  /** Threads per session: two sessions on a 2-core box each take one, so frames overlap. */
  intraOpThreads?: number;
  /** Relative installer files resolve against this folder (the site file's). */
  baseDir?: string;
  /** false: every graph as published, without its manifest's rewrite (the bench's baseline). */
  graphRewrites?: boolean;
  log: Logger;
}

/**
 * Loads every configured model once at start-up. A missing file, a wrong hash or a graph whose
 * inputs and outputs differ from its manifest stops start-up with an error naming the model and
 * the file, rather than failing on the first camera frame.
 */
export class ModelRegistry implements Service {
  readonly name = 'model-registry';
  private models = new Map<string, LoadedModel>();

  constructor(private readonly options: RegistryOptions) {}

  async start(): Promise<void> {
    try {
      for (const manifest of this.options.manifests) {
        const started = Date.now();
        const model = await loadModel(manifest, this.options);
        this.models.set(manifest.id, model);
        const rewrite = model.session.rewrite;
        this.options.log.info({ model: manifest.id, path: model.path, ms: Date.now() - started, ...(rewrite ? { rewrite } : {}) }, `model ${manifest.id} loaded`);
      }
    } catch (error) {
      await this.stop(); // release what loaded: the caller never started us, so it will not stop us
      throw error;
    }
  }

  async stop(): Promise<void> {
    for (const model of this.models.values()) await model.session.release();
    this.models.clear();
  }

  has(id: string): boolean {
    return this.models.has(id);
  }

  get(id: string): LoadedModel {
    const model = this.models.get(id);
    if (!model) throw new Error(`model ${id} is not loaded (is it configured?)`);
    return model;
  }

  loaded(): ModelManifest[] {
    return [...this.models.values()].map((m) => m.manifest);
  }
}

export async function loadModel(manifest: ModelManifest, options: { intraOpThreads?: number; baseDir?: string; graphRewrites?: boolean; log?: Logger }): Promise<LoadedModel> {
  const { path, bytes } = readVerified(manifest.id, manifest.source, options.baseDir);
  // The bytes just checked start the first thread; a thread started after a loss reads and checks the file again.
  let first: Uint8Array | null = bytes;
  const load = () => {
    const loaded = first ?? readVerified(manifest.id, manifest.source, options.baseDir).bytes;
    first = null;
    return loaded;
  };
  let session: WorkerSession;
  try {
    session = await WorkerSession.create(manifest.id, load, {
      intraOpThreads: options.intraOpThreads ?? 1,
      graphRewrite: options.graphRewrites === false ? null : (manifest.graphRewrite ?? null),
      onLost: (error) => options.log?.error({ err: error, model: manifest.id }, `${error.message}; starting it again`),
      onRestarted: () => options.log?.info({ model: manifest.id }, `model ${manifest.id}: inference thread started again`),
    });
  } catch (error) {
    throw new ModelFileError(manifest.id, `${path} is not a loadable ONNX model: ${(error as Error).message.split('\n')[0]}`);
  }
  try {
    checkTensors(manifest, 'input', manifest.inputs, session.inputNames, session.inputMetadata);
    checkTensors(manifest, 'output', manifest.outputs, session.outputNames, session.outputMetadata);
  } catch (error) {
    await session.release();
    throw error;
  }
  const assets: Record<string, Buffer> = {};
  for (const [name, source] of Object.entries(manifest.assets ?? {})) assets[name] = readVerified(`${manifest.id}/${name}`, source, options.baseDir).bytes;
  return { manifest, path, session, assets };
}

function checkTensors(manifest: ModelManifest, what: string, expected: TensorSpec[], names: readonly string[], metadata: readonly ort.InferenceSession.ValueMetadata[]): void {
  for (const spec of expected) {
    if (!names.includes(spec.name)) throw new ModelFileError(manifest.id, `expected ${what} "${spec.name}", the graph has ${names.map((n) => `"${n}"`).join(', ')}`);
    const meta = metadata.find((m) => m.name === spec.name);
    if (!meta || !meta.isTensor) continue;
    const shape = meta.shape;
    if (shape.length !== spec.shape.length) throw new ModelFileError(manifest.id, `${what} "${spec.name}" has rank ${shape.length}, expected ${spec.shape.length} (${JSON.stringify(spec.shape)})`);
    spec.shape.forEach((dim, i) => {
      const actual = shape[i];
      if (dim >= 0 && typeof actual === 'number' && actual >= 0 && actual !== dim)
        throw new ModelFileError(manifest.id, `${what} "${spec.name}" dimension ${i} is ${actual}, expected ${dim}`);
    });
  }
}
