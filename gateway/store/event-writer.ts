/**
 * The event writer thread (see ThreadEventLog): its own connection to the gateway's database,
 * committing batches of events with their outbox rows. The schema is already migrated by the
 * main connection. The same repositories as the main thread write the rows, so the outbox quota
 * is enforced inside the same transaction as on the main connection.
 */
import type { MessagePort } from 'node:worker_threads';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import type { FromWriter, ToWriter, WriteError } from './event-log.ts';
import { EventsRepo, type EventRow } from './events.ts';
import { OutboxRepo } from './outbox.ts';
import { commitBatch } from './write-queue.ts';

export interface EventWriterData {
  file: string;
  synchronous: 'FULL' | 'NORMAL';
}

export interface EventWriterHooks {
  /** After each row is written, inside its transaction (fault-injection tests cut the power here). */
  afterRow?(db: Database): void;
}

export function serveEventWriter(port: MessagePort, { file, synchronous }: EventWriterData, hooks: EventWriterHooks = {}): void {
  const db = new BetterSqlite3(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const events = new EventsRepo(db);
  const outbox = new OutboxRepo(db);
  // The main connection does not checkpoint (see Store.openThreaded): this one does, after its own
  // commits (autocheckpoint) and when the main thread asks (for what the main connection wrote).
  // Either way inside a turn the main thread counts as busy, so no commit of the main connection
  // runs meanwhile: on ext4 a checkpoint's writes and another connection's fsync of the WAL, run
  // at the same time, made that fsync wait hundreds of ms.
  function checkpoint(): void {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // Busy or I/O trouble: the next one, or an autocheckpoint, catches up.
    }
  }

  function appendOne([row, nowMs]: [EventRow, number]): void {
    events.insertRow(row);
    outbox.insertJson('event', row[0], row[7], nowMs);
    hooks.afterRow?.(db);
  }

  /** null when every row committed; otherwise, per row, why it was not committed. */
  function append(items: [EventRow, number][]): (WriteError | null)[] | null {
    const { outcomes } = commitBatch(db, items, appendOne, () => outbox.enforceQuota());
    return outcomes.every((o) => o.ok) ? null : outcomes.map((o) => (o.ok ? null : describe(o.error)));
  }

  port.on('message', (msg: ToWriter) => {
    switch (msg.type) {
      case 'append': {
        const errors = msg.items.length > 0 ? append(msg.items) : null;
        if (msg.checkpoint) checkpoint();
        port.postMessage({ type: 'appended', errors } satisfies FromWriter);
        break;
      }
      case 'policy':
        outbox.configure(msg.policy);
        break;
      case 'pragma':
        try {
          db.pragma(msg.pragma);
          port.postMessage({ type: 'pragma', id: msg.id } satisfies FromWriter);
        } catch (error) {
          port.postMessage({ type: 'pragma', id: msg.id, error: describe(error) } satisfies FromWriter);
        }
        break;
      case 'close':
        db.close();
        port.close();
        break;
    }
  });
  port.postMessage({ type: 'ready' } satisfies FromWriter);
}

function describe(error: unknown): WriteError {
  const e = error as { message?: string; code?: unknown };
  return { message: e?.message ?? String(error), ...(typeof e?.code === 'string' ? { code: e.code } : {}) };
}
