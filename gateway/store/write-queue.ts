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
  /** The queue sharing the database with the gate's writer: the gate flushes it whenever that writer is idle. */
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

  /**
   * Commits everything queued so far, synchronously; while the gate's writer is mid-batch it
   * leaves the queue for the gate, which flushes it as soon as its writer is idle.
   */
  flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0 || this.gate?.busy) return;
    const batch = this.queue;
    this.queue = [];
    const { committed, outcomes } = commitBatch(this.db, batch, (op) => op.run(this.db));
    if (committed) {
      this.stats.batches++;
      this.stats.writes += batch.length;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    }
    batch.forEach((op, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) op.resolve(outcome.value);
      else {
        this.stats.failed++;
        op.reject(outcome.error);
      }
    });
  }

  close(): void {
    this.flush();
    this.closed = true;
  }
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

const transactions = new WeakMap<Database, (body: () => unknown) => unknown>();

/**
 * Runs `body` in a transaction (in a savepoint when one is open). The wrapper is made once per
 * connection: better-sqlite3 builds four wrapped functions with their properties on every
 * db.transaction() call, which cost a third of a one-row commit.
 */
export function inTransaction<R>(db: Database, body: () => R): R {
  let tx = transactions.get(db);
  if (!tx) {
    tx = db.transaction((fn: () => unknown) => fn());
    transactions.set(db, tx);
  }
  return tx(body) as R;
}

/**
 * Group commit of a batch, shared by the main connection's queue and the event writer thread:
 * every item in one transaction (`beforeCommit` runs last inside it, e.g. the outbox quota).
 * When an item throws, the whole batch is run again with a savepoint per item, so only that item
 * fails: an item must therefore be safe to run twice. When the commit itself fails, or SQLite
 * rolled the whole transaction back (disk full, I/O error), every item fails with that cause.
 */
export function commitBatch<I, T>(db: Database, items: readonly I[], run: (item: I) => T, beforeCommit?: () => void): { committed: boolean; outcomes: Outcome<T>[] } {
  try {
    const outcomes = inTransaction(db, () => {
      const all = items.map((item): Outcome<T> => ({ ok: true, value: run(item) }));
      beforeCommit?.();
      return all;
    });
    return { committed: true, outcomes };
  } catch {
    try {
      const outcomes: Outcome<T>[] = [];
      inTransaction(db, () => {
        for (const item of items) {
          try {
            outcomes.push({ ok: true, value: inTransaction(db, () => run(item)) });
          } catch (error) {
            // Not "no transaction is active" at COMMIT, but the error that rolled it back.
            if (!db.inTransaction) throw error;
            outcomes.push({ ok: false, error });
          }
        }
        beforeCommit?.();
      });
      return { committed: true, outcomes };
    } catch (error) {
      return { committed: false, outcomes: items.map(() => ({ ok: false, error })) };
    }
  }
}
