import type { Worker } from 'node:worker_threads';
import { startWorker } from '../core/worker-thread.ts';
import type { DeviceEvent } from '../core/model.ts';
import type { EventWriterData } from './event-writer.ts';
import { eventRow, type EventRow, type EventsRepo } from './events.ts';
import type { OutboxPolicy, OutboxRepo } from './outbox.ts';
import type { SharedQueue, WriteGate, WriteQueue, WriteQueueStats } from './write-queue.ts';

/**
 * Where the pipeline keeps what devices send: the event row and its outbox row, committed in one
 * transaction. The promise resolves only after the commit, so a device is acknowledged (PUBACK)
 * only for an event that survives a power cut.
 */
export interface EventLog {
  append(event: DeviceEvent, json: string, nowMs: number): Promise<void>;
  /** Commit statistics of this log's own transactions; null when it shares the main write queue. */
  readonly stats: WriteQueueStats | null;
  readonly pending: number;
  /** Commits what was appended, then refuses further appends. */
  close(): Promise<void>;
}

/** On the main connection, through the group-commit queue: for in-memory databases and tools. */
export class InlineEventLog implements EventLog {
  readonly stats = null;

  constructor(private readonly deps: { writes: WriteQueue; events: EventsRepo; outbox: OutboxRepo }) {}

  append(event: DeviceEvent, json: string, nowMs: number): Promise<void> {
    const { writes, events, outbox } = this.deps;
    return writes.write(() => {
      events.insert(event, json);
      outbox.enqueueJson('event', event.id, json, nowMs);
    });
  }

  get pending(): number {
    return 0;
  }

  async close(): Promise<void> {}
}

/** What the main thread and the writer thread say to each other. */
export type ToWriter =
  | { type: 'append'; items: [EventRow, number][]; checkpoint?: boolean }
  | { type: 'policy'; policy: OutboxPolicy }
  | { type: 'pragma'; id: number; pragma: string }
  | { type: 'close' };
export interface WriteError {
  message: string;
  code?: string;
}
export type FromWriter =
  | { type: 'ready' }
  | { type: 'appended'; errors: (WriteError | null)[] | null }
  | { type: 'pragma'; id: number; error?: WriteError };

/** Batches posted to the writer at a time: one being committed, one waiting in its port. */
const MAX_IN_FLIGHT = 2;
/** Events waiting before a second batch is posted while one is being committed. */
const PIPELINE_FROM = 200;
/** How often the writer checkpoints the WAL for the main connection's writes. */
const CHECKPOINT_MS = 2_000;

type Pending = { row: EventRow | null; nowMs: number; resolve: () => void; reject: (error: unknown) => void };

/**
 * Events committed by a writer thread on its own SQLite connection. The main thread parses
 * device traffic, identifies and runs the rules while the writer inserts and waits for the disk:
 * at high rates the commit (and its fsync) was a fifth of the main thread's time. Appends made
 * while a batch is being committed form the next batch (group commit, one fsync per batch).
 *
 * SQLite lets one connection write at a time; the main connection's own queue (alerts, rule
 * state, outbox deletes) commits only while the writer is idle (this is its WriteGate), and
 * has priority over further batches, so neither side ever waits on SQLite's busy handler.
 */
export class ThreadEventLog implements EventLog, WriteGate {
  readonly stats: WriteQueueStats = { batches: 0, writes: 0, failed: 0, largestBatch: 0 };
  private worker: Worker | null = null;
  private queue: Pending[] = [];
  /** Batches posted to the writer and not yet answered, oldest first (at most MAX_IN_FLIGHT). */
  private inFlight: Pending[][] = [];
  private scheduled = false;
  /** close() waiting for the writer to finish what was posted. */
  private idleWaiters: (() => void)[] = [];
  private mainQueue: SharedQueue | null = null;
  private checkpointDue = false;
  private checkpointTimer: NodeJS.Timeout | null = null;
  private pragmaWaiters = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  private nextPragmaId = 1;
  private stopped: Error | null = null;
  private closing = false;
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly options: { file: string; synchronous: 'FULL' | 'NORMAL'; maxBatch?: number; module?: URL | undefined }) {}

  /** Starts the writer thread; resolves once its connection is open. */
  start(): Promise<void> {
    const module = this.options.module ?? new URL('./event-writer.worker.ts', import.meta.url);
    const worker = startWorker(module, { file: this.options.file, synchronous: this.options.synchronous } satisfies EventWriterData);
    this.worker = worker;
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    // What the main connection wrote reaches the database file through the writer's checkpoints.
    this.checkpointTimer = setInterval(() => {
      this.checkpointDue = true;
      this.scheduleSend();
    }, CHECKPOINT_MS);
    this.checkpointTimer.unref();
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (msg: FromWriter) => {
        if (msg.type === 'ready') {
          ready = true;
          resolve();
        } else this.onMessage(msg);
      });
      worker.once('error', (error) => {
        if (!ready) reject(new Error(`event writer thread failed to start: ${error.message}`));
        this.fail(new Error(`event writer thread failed: ${error.message}`));
      });
      worker.once('exit', (code) => {
        if (!ready) reject(new Error(`event writer thread exited (code ${code}) before it was ready`));
        if (!this.closing) this.fail(new Error(`event writer thread exited unexpectedly (code ${code})`));
      });
    });
  }

  append(event: DeviceEvent, json: string, nowMs: number): Promise<void> {
    if (this.stopped) return Promise.reject(this.stopped);
    if (this.closing) return Promise.reject(new Error('store is closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ row: eventRow(event, json), nowMs, resolve, reject });
      // Let the rest of this turn's traffic join the batch.
      if (this.inFlight.length < MAX_IN_FLIGHT) this.scheduleSend();
    });
  }

  /** The outbox quota and time-to-live rules, applied in the writer's transactions too. */
  configure(policy: OutboxPolicy): void {
    this.worker?.postMessage({ type: 'policy', policy } satisfies ToWriter);
  }

  /** Runs a pragma on the writer's connection (e.g. max_page_count, which is per connection). */
  pragma(pragma: string): Promise<void> {
    if (!this.worker || this.stopped) return Promise.resolve();
    const id = this.nextPragmaId++;
    return new Promise((resolve, reject) => {
      this.pragmaWaiters.set(id, { resolve, reject });
      this.worker!.postMessage({ type: 'pragma', id, pragma } satisfies ToWriter);
    });
  }

  get pending(): number {
    return this.queue.length + this.inFlight.reduce((n, batch) => n + batch.length, 0);
  }

  get busy(): boolean {
    return this.inFlight.length > 0;
  }

  attach(queue: SharedQueue): void {
    this.mainQueue = queue;
  }

  async close(): Promise<void> {
    if (this.closing) return this.exited;
    // Everything appended so far is committed (and its promise settled) before the thread ends.
    while (!this.stopped) {
      this.send();
      if (!this.busy) break;
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    this.closing = true;
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    this.worker?.postMessage({ type: 'close' } satisfies ToWriter);
    await this.exited;
  }

  private scheduleSend(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.send();
    });
  }

  /**
   * Posts a batch when the writer is idle, and under load (PIPELINE_FROM events waiting) a second
   * one, so that the writer starts it as soon as it committed the first, even while the main
   * thread is busy. The main connection goes first: it commits whenever the writer is idle, and
   * while it has writes queued no further batch is posted, so they wait for at most the batches
   * already posted.
   */
  private send(): void {
    if (!this.worker || this.stopped) return;
    const max = this.options.maxBatch ?? 1000;
    while ((this.queue.length > 0 || this.checkpointDue) && this.inFlight.length < MAX_IN_FLIGHT) {
      if (this.inFlight.length === 0) this.mainQueue?.flush();
      // A second batch only under load: it would make the main connection's next commit (an
      // alert, say) wait for one more fsync, which at ordinary rates costs more than it saves.
      else if ((this.mainQueue?.pending ?? 0) > 0 || this.queue.length < PIPELINE_FROM) return;
      const batch = this.queue.length <= max ? this.queue : this.queue.slice(0, max);
      this.queue = batch === this.queue ? [] : this.queue.slice(max);
      this.inFlight.push(batch);
      const items: [EventRow, number][] = batch.map((p) => [p.row!, p.nowMs]);
      // A due checkpoint rides with the batch (or goes alone): it then runs while this side
      // counts the writer as busy and commits nothing.
      const checkpoint = this.checkpointDue;
      this.checkpointDue = false;
      this.worker.postMessage({ type: 'append', items, ...(checkpoint ? { checkpoint } : {}) } satisfies ToWriter);
      // The thread has its copy: let the rows (the event JSON, mostly) go before the commit returns.
      for (const p of batch) p.row = null;
    }
  }

  private onMessage(msg: FromWriter): void {
    if (msg.type === 'pragma') {
      const waiter = this.pragmaWaiters.get(msg.id);
      this.pragmaWaiters.delete(msg.id);
      if (msg.error) waiter?.reject(toError(msg.error));
      else waiter?.resolve();
      return;
    }
    if (msg.type !== 'appended') return;
    const batch = this.inFlight.shift() ?? [];
    if (batch.length > 0) {
      this.stats.batches++;
      this.stats.writes += batch.length;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    }
    batch.forEach((p, i) => {
      const error = msg.errors?.[i];
      if (error) {
        this.stats.failed++;
        p.reject(toError(error));
      } else p.resolve();
    });
    if (!this.busy) this.becameIdle();
    // More goes on the next turn: first what the committed events set off (rules, alerts) runs
    // and queues its writes, which then commit before the next batch is posted (see send()).
    if (this.queue.length > 0) this.scheduleSend();
  }

  private fail(error: Error): void {
    if (this.stopped) return;
    this.stopped = error;
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    const lost = [...this.inFlight.flat(), ...this.queue];
    this.inFlight = [];
    this.queue = [];
    this.stats.failed += lost.length;
    for (const p of lost) p.reject(error);
    for (const waiter of this.pragmaWaiters.values()) waiter.reject(error);
    this.pragmaWaiters.clear();
    this.becameIdle();
  }

  /** Nothing posted is left unanswered: the main connection's queue commits, close() goes on. */
  private becameIdle(): void {
    this.mainQueue?.flush();
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }
}

function toError(e: WriteError): Error {
  return Object.assign(new Error(e.message), e.code ? { code: e.code } : {});
}
