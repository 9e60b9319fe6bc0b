import type { Database, Statement } from 'better-sqlite3';

/** Priority classes: lower goes first. Order is kept within a class (by seq). */
export const OUTBOX_CLASSES = { alert: 0, 'alert-update': 1, event: 2, telemetry: 3 } as const;
export type OutboxKind = keyof typeof OUTBOX_CLASSES;

export interface OutboxRow {
  seq: number;
  class: number;
  kind: OutboxKind;
  item_id: string;
  created_ms: number;
  expires_ms: number | null;
  bytes: number;
  body: string;
}

export interface OutboxDepth {
  kind: OutboxKind;
  count: number;
  bytes: number;
  oldestMs: number | null;
}

export class OutboxRepo {
  private insert: Statement;
  private nextClass: Statement;
  private batchStmt: Statement;
  private deleteStmt: Statement;
  private depthStmt: Statement;

  constructor(private readonly db: Database) {
    this.insert = db.prepare(
      'INSERT INTO outbox (class, kind, item_id, created_ms, expires_ms, bytes, body) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.nextClass = db.prepare('SELECT class FROM outbox ORDER BY class, seq LIMIT 1');
    this.batchStmt = db.prepare('SELECT * FROM outbox WHERE class = ? AND seq > ? ORDER BY seq LIMIT ?');
    this.deleteStmt = db.prepare('DELETE FROM outbox WHERE seq = ?');
    this.depthStmt = db.prepare(
      'SELECT kind, COUNT(*) AS count, COALESCE(SUM(bytes), 0) AS bytes, MIN(created_ms) AS oldestMs FROM outbox GROUP BY kind',
    );
  }

  /** Call inside a WriteQueue write, in the same transaction as the item itself. */
  enqueue(kind: OutboxKind, itemId: string, body: unknown, nowMs: number, ttlMs: number | null = null): void {
    const json = JSON.stringify(body);
    this.insert.run(OUTBOX_CLASSES[kind], kind, itemId, nowMs, ttlMs === null ? null : nowMs + ttlMs, Buffer.byteLength(json), json);
  }

  /** The highest-priority class that has rows, or null when the outbox is empty. */
  nextClassWithRows(): number | null {
    const row = this.nextClass.get() as { class: number } | undefined;
    return row ? row.class : null;
  }

  /** Rows of one class after `afterSeq`, oldest first, up to maxItems and (roughly) maxBytes. */
  batch(cls: number, afterSeq: number, maxItems: number, maxBytes: number): OutboxRow[] {
    const rows = this.batchStmt.all(cls, afterSeq, maxItems) as OutboxRow[];
    const out: OutboxRow[] = [];
    let bytes = 0;
    for (const row of rows) {
      if (out.length > 0 && bytes + row.bytes > maxBytes) break;
      out.push(row);
      bytes += row.bytes;
    }
    return out;
  }

  /** Removes rows once the platform acknowledged the envelope that carried them. */
  remove(seqs: number[]): void {
    this.db.transaction(() => {
      for (const seq of seqs) this.deleteStmt.run(seq);
    })();
  }

  depth(): OutboxDepth[] {
    return this.depthStmt.all() as OutboxDepth[];
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
  }
}
