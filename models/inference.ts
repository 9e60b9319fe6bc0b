import ort from './onnxruntime.ts';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../gateway/core/worker-thread.ts';
import type { GraphRewrite, RewriteStats } from './graph-rewrite.ts';
import { fromWire, toWire, type WireTensor } from './wire-tensor.ts';

export type InferenceRequest =
  /** `returnInputs`: the feeds' buffers were moved here; move them back with the reply, for reuse. */
  | { op: 'run'; id: number; feeds: Record<string, WireTensor>; returnInputs: boolean }
  | { op: 'release'; id: number };

type Loaded = { op: 'loaded'; inputNames: string[]; outputNames: string[]; inputMetadata: ort.InferenceSession.ValueMetadata[]; outputMetadata: ort.InferenceSession.ValueMetadata[] };

export type InferenceReply =
  | Loaded
  | { op: 'load-failed'; message: string }
  | { op: 'ran'; id: number; outputs: Record<string, WireTensor>; inputs: ArrayBuffer[] }
  | { op: 'failed'; id: number; message: string }
  | { op: 'released'; id: number };

export interface InferenceWorkerData {
  model: string;
  bytes: Uint8Array;
  intraOpThreads: number;
}

export interface WorkerSessionOptions {
  intraOpThreads: number;
  /** The manifest's rewrite, made before every thread start (models/graph-rewrite.ts); none: the graph as published. */
  graphRewrite?: GraphRewrite | null;
  /** The thread died (not released): told once per loss, before the session starts a new one. */
  onLost?: (error: Error) => void;
  /** The thread was started again after a loss. */
  onRestarted?: () => void;
  /** First wait before starting a lost thread again; doubles up to 30 s while starting fails. */
  restartAfterMs?: number;
}

const MAX_RESTART_MS = 30_000;

/**
 * A manifest's graph rewrite, on a thread started for it and ended after it (graph-rewrite.worker.ts):
 * off the event loop (≈ 0.1 s per model), and what the rewrite leaves behind goes with the thread.
 */
async function rewriteOnThread(rewrite: GraphRewrite, bytes: Uint8Array): Promise<{ bytes: Uint8Array; stats: RewriteStats }> {
  const worker = startWorker(new URL('./graph-rewrite.worker.ts', import.meta.url), { rewrite, bytes });
  try {
    const reply = await new Promise<{ ok: true; bytes: Uint8Array; stats: RewriteStats } | { ok: false; message: string }>((resolve, reject) => {
      worker.once('message', resolve).once('error', reject).once('exit', (code) => reject(new Error(`graph rewrite thread exited (code ${code})`)));
    });
    if (!reply.ok) throw new Error(`graph rewrite ${rewrite} failed: ${reply.message}`);
    return { bytes: reply.bytes, stats: reply.stats };
  } finally {
    await worker.terminate();
  }
}

/** Input buffers kept for reuse per session, per size (a detector has one input of one size per camera size). */
const POOLED_PER_SIZE = 2;

/**
 * An ONNX session on a thread of its own. onnxruntime-node's `session.run` computes on the
 * calling thread (it only defers the call with setImmediate), so a 25 ms text detection would
 * stall the event loop — MQTT acknowledgements, rules, alerts — for 25 ms. Each model gets a
 * worker thread that owns its session; inputs are copied to it (or moved: `transferInputs`) and
 * outputs transferred back.
 * A thread that dies fails the runs waiting on it, is reported, and is started again (the model
 * file read and checked again) while runs in between fail at once, naming the model.
 */
export class WorkerSession {
  inputNames: readonly string[] = [];
  outputNames: readonly string[] = [];
  inputMetadata: readonly ort.InferenceSession.ValueMetadata[] = [];
  outputMetadata: readonly ort.InferenceSession.ValueMetadata[] = [];
  /** What the graph rewrite changed (null: the graph as published). */
  rewrite: RewriteStats | null = null;
  private worker: Worker | null = null;
  private pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private failure: Error | null = null;
  private released = false;
  private restartAfterMs: number;
  /** Input buffers moved back by the thread after a run, by byte length, for the next run's input (see inputBuffer). */
  private pool = new Map<number, ArrayBuffer[]>();

  private constructor(
    private readonly model: string,
    /** The model file's bytes, read (and checked) again for every thread started. */
    private readonly load: () => Uint8Array,
    private readonly options: WorkerSessionOptions,
  ) {
    this.restartAfterMs = options.restartAfterMs ?? 1000;
  }

  /** Loads the model on a new thread; rejects with the runtime's message if the graph does not load. */
  static async create(model: string, load: () => Uint8Array, options: WorkerSessionOptions): Promise<WorkerSession> {
    const session = new WorkerSession(model, load, options);
    const loaded = await session.spawn();
    session.inputNames = loaded.inputNames;
    session.outputNames = loaded.outputNames;
    session.inputMetadata = loaded.inputMetadata;
    session.outputMetadata = loaded.outputMetadata;
    return session;
  }

  /**
   * Runs the model on its thread. Inputs are copied unless `transferInputs`: then their buffers
   * move to the thread without a copy and are unusable here afterwards (the caller made them for
   * this run alone). A plate's detector input is 1.5 MB: its copy cost 1.8 ms of the main thread.
   */
  run(feeds: Record<string, ort.Tensor>, options: { transferInputs?: boolean } = {}): Promise<Record<string, ort.Tensor>> {
    const transfer = options.transferInputs === true;
    const { wire, buffers } = toWire(feeds, transfer);
    return this.request({ op: 'run', id: 0, feeds: wire, returnInputs: transfer }, buffers) as Promise<Record<string, ort.Tensor>>;
  }

  /**
   * A float buffer for a run's input that `run(…, { transferInputs: true })` will move: one a
   * thread moved back after an earlier run when there is one of that length (its contents are
   * stale: write every element), else a new one. A plate read used to allocate 1.5 MB here and a
   * face frame 0.8 MB; V8 counts such buffers towards its heap limits, so the churn cost the event
   * loop's thread a full collection every three plate reads.
   */
  inputBuffer(length: number): Float32Array<ArrayBuffer> {
    const reused = this.pool.get(length * 4)?.pop();
    return reused ? new Float32Array(reused) : new Float32Array(length);
  }

  private keepForReuse(buffers: ArrayBuffer[]): void {
    for (const buffer of buffers) {
      const free = this.pool.get(buffer.byteLength) ?? [];
      if (free.length >= POOLED_PER_SIZE) continue;
      free.push(buffer);
      this.pool.set(buffer.byteLength, free);
    }
  }

  /**
   * Releases the session and ends its thread. The thread ends itself once its session is released
   * (and any run before it answered): a terminate() while the native binding is inside a run can
   * abort the whole process, so it is only the fallback for a thread that does not answer.
   */
  async release(): Promise<void> {
    if (this.released) return;
    const worker = this.worker;
    const exited = worker ? new Promise<void>((resolve) => worker.once('exit', () => resolve())) : Promise.resolve();
    let answered = false;
    if (worker && !this.failure) answered = await this.request({ op: 'release', id: 0 }).then(() => true, () => false);
    this.released = true;
    this.failure = new Error(`model ${this.model}: released`);
    this.worker = null; // its exit is then not a loss
    // Runs sent while the release was on its way are never answered by a thread that has ended.
    this.failPending(this.failure);
    if (!worker) return;
    if (!answered) await worker.terminate();
    else {
      worker.ref();
      const timer = setTimeout(() => void worker.terminate(), 5000);
      await exited;
      clearTimeout(timer);
    }
  }

  private async spawn(): Promise<Loaded> {
    let bytes = this.load();
    if (this.options.graphRewrite) {
      const rewritten = await rewriteOnThread(this.options.graphRewrite, bytes);
      [bytes, this.rewrite] = [rewritten.bytes, rewritten.stats];
    }
    const worker = startWorker(new URL('./inference.worker.ts', import.meta.url), { model: this.model, bytes, intraOpThreads: this.options.intraOpThreads } satisfies InferenceWorkerData);
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
    this.attach(worker);
    return reply;
  }

  private attach(worker: Worker): void {
    this.worker = worker;
    this.failure = null;
    worker.on('message', (reply: InferenceReply) => {
      if (reply.op === 'loaded' || reply.op === 'load-failed') return;
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.settled(reply.id);
      if (reply.op === 'ran') {
        this.keepForReuse(reply.inputs);
        waiting.resolve(fromWire(reply.outputs));
      } else if (reply.op === 'failed') waiting.reject(new Error(`model ${this.model}: ${reply.message}`));
      else waiting.resolve(undefined);
    });
    worker.on('error', (error) => this.lost(worker, `failed: ${error.message}`));
    worker.on('exit', (code) => this.lost(worker, `exited (code ${code})`));
    // Idle, the thread must not keep the process alive (tests, tools); busy, it must.
    worker.unref();
  }

  private lost(worker: Worker, why: string): void {
    if (this.worker !== worker) return; // an 'error' is followed by an 'exit': one loss
    this.worker = null;
    this.failure = new Error(`model ${this.model}: its inference thread ${why}`);
    this.failPending(this.failure);
    if (this.released) return;
    this.options.onLost?.(this.failure);
    this.restartLater();
  }

  private restartLater(): void {
    const delay = this.restartAfterMs;
    this.restartAfterMs = Math.min(MAX_RESTART_MS, delay * 2);
    setTimeout(() => {
      if (this.released) return;
      this.spawn().then(
        () => {
          this.restartAfterMs = this.options.restartAfterMs ?? 1000;
          this.options.onRestarted?.();
        },
        (error: Error) => {
          this.failure = new Error(`model ${this.model}: its inference thread could not be started again: ${error.message}`);
          this.options.onLost?.(this.failure);
          this.restartLater();
        },
      );
    }, delay).unref();
  }

  private request(message: InferenceRequest, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.failure || !this.worker) return Promise.reject(this.failure ?? new Error(`model ${this.model}: no inference thread`));
    const worker = this.worker;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) worker.ref();
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...message, id }, transfer);
    });
  }

  private failPending(error: Error): void {
    for (const [id, waiting] of this.pending) {
      this.settled(id);
      waiting.reject(error);
    }
  }

  private settled(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker?.unref();
  }
}
