import ort from 'onnxruntime-node';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../gateway/core/worker-thread.ts';

/** A tensor as it crosses the thread boundary: plain data, no class. */
export interface WireTensor {
  type: ort.Tensor.Type;
  dims: readonly number[];
  data: ort.Tensor.DataType;
}

export type InferenceRequest =
  | { op: 'run'; id: number; feeds: Record<string, WireTensor> }
  | { op: 'release'; id: number };

export type InferenceReply =
  | { op: 'loaded'; inputNames: string[]; outputNames: string[]; inputMetadata: ort.InferenceSession.ValueMetadata[]; outputMetadata: ort.InferenceSession.ValueMetadata[] }
  | { op: 'load-failed'; message: string }
  | { op: 'ran'; id: number; outputs: Record<string, WireTensor> }
  | { op: 'failed'; id: number; message: string }
  | { op: 'released'; id: number };

export interface InferenceWorkerData {
  model: string;
  bytes: Uint8Array;
  intraOpThreads: number;
}

/**
 * An ONNX session on a thread of its own. onnxruntime-node's `session.run` computes on the
 * calling thread (it only defers the call with setImmediate), so a 25 ms text detection would
 * stall the event loop — MQTT acknowledgements, rules, alerts — for 25 ms. Each model gets a
 * worker thread that owns its session; inputs are copied to it and outputs transferred back.
 */
export class WorkerSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  private pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private failure: Error | null = null;

  private constructor(
    private readonly model: string,
    private readonly worker: Worker,
    loaded: Extract<InferenceReply, { op: 'loaded' }>,
  ) {
    this.inputNames = loaded.inputNames;
    this.outputNames = loaded.outputNames;
    this.inputMetadata = loaded.inputMetadata;
    this.outputMetadata = loaded.outputMetadata;
    worker.on('message', (reply: InferenceReply) => {
      if (reply.op === 'loaded' || reply.op === 'load-failed') return;
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.settled(reply.id);
      if (reply.op === 'ran') waiting.resolve(Object.fromEntries(Object.entries(reply.outputs).map(([name, t]) => [name, new ort.Tensor(t.type, t.data as never, t.dims)])));
      else if (reply.op === 'failed') waiting.reject(new Error(`model ${model}: ${reply.message}`));
      else waiting.resolve(undefined);
    });
    const lost = (why: string) => {
      this.failure ??= new Error(`model ${model}: its inference thread ${why}`);
      for (const [id, waiting] of this.pending) {
        this.settled(id);
        waiting.reject(this.failure);
      }
    };
    worker.on('error', (error) => lost(`failed: ${error.message}`));
    worker.on('exit', (code) => lost(`exited (code ${code})`));
    // Idle, the thread must not keep the process alive (tests, tools); busy, it must.
    worker.unref();
  }

  /** Loads the model on a new thread; rejects with the runtime's message if the graph does not load. */
  static async create(model: string, bytes: Uint8Array, options: { intraOpThreads: number }): Promise<WorkerSession> {
    const worker = startWorker(new URL('./inference.worker.ts', import.meta.url), { model, bytes, intraOpThreads: options.intraOpThreads } satisfies InferenceWorkerData);
    let onMessage!: (reply: InferenceReply) => void, onError!: (error: Error) => void, onExit!: (code: number) => void;
    const reply = await new Promise<InferenceReply>((resolve, reject) => {
      onMessage = resolve;
      onError = reject;
      onExit = (code) => reject(new Error(`inference thread exited (code ${code}) while loading`));
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    }).finally(() => {
      // Only these three: the Worker's own listeners start and stop its message port.
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    });
    if (reply.op !== 'loaded') {
      await worker.terminate();
      throw new Error(reply.op === 'load-failed' ? reply.message : `unexpected reply ${reply.op}`);
    }
    return new WorkerSession(model, worker, reply);
  }

  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
    const wire: Record<string, WireTensor> = {};
    for (const [name, tensor] of Object.entries(feeds)) wire[name] = { type: tensor.type, dims: tensor.dims, data: tensor.data as ort.Tensor.DataType };
    // Copied, not transferred: callers reuse their input buffers (a pooled det input, a prepared feed).
    return this.request({ op: 'run', id: 0, feeds: wire }) as Promise<Record<string, ort.Tensor>>;
  }

  async release(): Promise<void> {
    if (!this.failure) await this.request({ op: 'release', id: 0 }).catch(() => {});
    this.failure ??= new Error(`model ${this.model}: released`);
    await this.worker.terminate();
  }

  private request(message: InferenceRequest): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id });
    });
  }

  private settled(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
  }
}
