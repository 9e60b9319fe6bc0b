import type { Database } from 'better-sqlite3';

type Op = { run: (db: Database) => unknown; resolve: (value: any) => void; reject: (error: unknown) => void };

export interface WriteQueueStats {
  batches: number;
  writes: number;
  failed: number;
  largestBatch: number;
}

/** Another writer on the same database (the event writer thread): commit only while it is idle. */
export interface WriteGate {
  readonly busy: boolean;
  whenIdle(callback: () => void): void;
  /** The queue sharing the database with the gate's writer: flushed whenever that writer is idle. */
  attach(queue: SharedQueue): void;
}

export interface SharedQueue {
  readonly pending: number;
  flush(): void;
}

/**
 * Group commit: writes queued in the same turn of the event loop share one transaction and one
 * fsync. A failing write is rejected alone while the rest of its batch commits: the batch is then
 * run again with a savepoint per write, so a write function must be safe to run twice (pure SQL,
 * or idempotent in-memory effects). A promise resolves only after its transaction committed:
 * callers acknowledge devices (PUBACK) then, and not before.
 */
export class WriteQueue implements SharedQueue {
  private queue: Op[] = [];
  private scheduled = false;
  private closed = false;
  private gate: WriteGate | null = null;
  private waitingForGate = false;
  readonly stats: WriteQueueStats = { batches: 0, writes: 0, failed: 0, largestBatch: 0 };

  constructor(
    private readonly db: Database,
    private readonly maxBatch = 1000,
  ) {}

  write<T>(run: (db: Database) => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** SQLite has one writer at a time: take turns with `gate` instead of blocking in its busy handler. */
  shareWith(gate: WriteGate): void {
    this.gate = gate;
    // Alerts and rule state queued here go before further batches of events: an alert then waits
    // for at most the batches already handed to the other writer, never for a queue of them.
    gate.attach(this);
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Commits everything queued so far, synchronously; while the gate's writer is mid-batch, as soon as it is idle. */
  flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    if (this.gate?.busy) {
      if (!this.waitingForGate) {
        this.waitingForGate = true;
        this.gate.whenIdle(() => {
          this.waitingForGate = false;
          this.flush();
        });
      }
      return;
    }
    const batch = this.queue;
    this.queue = [];
    let results: { ok: boolean; value: unknown }[];
    try {
      results = this.commitAll(batch);
    } catch {
      // One write failed and the whole batch rolled back: run it again with a savepoint per write,
      // so that only the failing write is rejected.
      try {
        results = this.commitIsolated(batch);
      } catch (error) {
        // The commit itself failed (disk full, I/O error): nothing in the batch is durable.
        this.stats.failed += batch.length;
        for (const op of batch) op.reject(error);
        return;
      }
    }
    this.stats.batches++;
    this.stats.writes += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    batch.forEach((op, i) => {
      const result = results[i]!;
      if (result.ok) op.resolve(result.value);
      else {
        this.stats.failed++;
        op.reject(result.value);
      }
    });
  }

  /** The common case, every write succeeds: one transaction, no savepoints. */
  private commitAll(batch: Op[]): { ok: boolean; value: unknown }[] {
    return this.db.transaction(() => batch.map((op) => ({ ok: true, value: op.run(this.db) })))();
  }

  /** Each write in its own savepoint (a nested better-sqlite3 transaction). */
  private commitIsolated(batch: Op[]): { ok: boolean; value: unknown }[] {
    const results: { ok: boolean; value: unknown }[] = [];
    this.db.transaction(() => {
      for (const op of batch) {
        try {
          results.push({ ok: true, value: this.db.transaction(op.run)(this.db) });
        } catch (error) {
          // Disk full or an I/O error rolls back the whole transaction: report that cause.
          if (!this.db.inTransaction) throw error;
          results.push({ ok: false, value: error });
        }
      }
    })();
    return results;
  }

  close(): void {
    this.flush();
    this.closed = true;
  }
}
