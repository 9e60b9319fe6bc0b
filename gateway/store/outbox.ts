import type { Database, Statement } from 'better-sqlite3';
import { inTransaction } from './write-queue.ts';

/** Priority classes: lower goes first. Order is kept within a class (by seq). */
export const OUTBOX_CLASSES = { alert: 0, 'alert-update': 1, event: 2, telemetry: 3 } as const;
export type OutboxKind = keyof typeof OUTBOX_CLASSES;
export const OUTBOX_KINDS = Object.keys(OUTBOX_CLASSES) as OutboxKind[];
/**
 * What a row carries. Evidence images ('media') ride in the alert-update class: after the alert
 * they belong to, ahead of the event backlog, never evicted unless alerts may be; they are sent
 * one per envelope on their own topic (cloud-sync/media-evidence.ts).
 */
export type OutboxRowKind = OutboxKind | 'media';

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

export interface SendBatch {
  /** The kind of every row in the batch: a batch never mixes kinds. */
  kind: OutboxRowKind;
  cls: number;
  firstSeq: number;
  lastSeq: number;
  /** Item JSON, in seq order. */
  bodies: string[];
  bytes: number;
}

export interface OutboxClassTotals {
  kind: OutboxKind;
  count: number;
  bytes: number;
  /** Rows dropped to keep the outbox under its byte quota, since the database was created. */
  evicted: number;
  /** Rows dropped because their time to live passed. */
  expired: number;
  oldestMs: number | null;
}

/**
 * How the outbox bounds itself. Without a policy it grows without limit and nothing expires
 * (the foundation's behaviour); the cloud-sync service sets one from `platform.outbox`.
 */
export interface OutboxPolicy {
  /** Total bytes of row bodies allowed; null for no quota. */
  quotaBytes: number | null;
  /** Whether alerts and alert updates may be evicted once nothing else is left to evict. */
  evictAlerts: boolean;
  /** Time to live per kind in ms; null or absent: kept until sent. */
  ttlMs: Partial<Record<OutboxKind, number | null>>;
}

const KIND_OF_CLASS = OUTBOX_KINDS;
const EVICT_BATCH = 256;

export class OutboxRepo {
  private insert: Statement;
  private nextClass: Statement;
  private batchStmt: Statement;
  private deleteStmt: Statement;
  private policy: OutboxPolicy = { quotaBytes: null, evictAlerts: false, ttlMs: {} };
  private readonly policyListeners: ((policy: OutboxPolicy) => void)[] = [];
  // The v4 tables may be absent when a test opens the store with its own migrations: prepare late.
  private lazy: Record<string, Statement> = {};

  constructor(private readonly db: Database) {
    this.insert = db.prepare(
      'INSERT INTO outbox (class, kind, item_id, created_ms, expires_ms, bytes, body) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.nextClass = db.prepare('SELECT class FROM outbox ORDER BY class, seq LIMIT 1');
    this.batchStmt = db.prepare('SELECT * FROM outbox WHERE class = ? AND seq > ? ORDER BY seq LIMIT ?');
    this.deleteStmt = db.prepare('DELETE FROM outbox WHERE seq = ?');
  }

  private stmt(sql: string): Statement {
    return (this.lazy[sql] ??= this.db.prepare(sql));
  }

  configure(policy: OutboxPolicy): void {
    this.policy = policy;
    for (const listener of this.policyListeners) listener(policy);
  }

  /** Another connection that enqueues (the event writer thread) must bound the outbox the same way. */
  onConfigure(listener: (policy: OutboxPolicy) => void): void {
    this.policyListeners.push(listener);
    listener(this.policy);
  }

  get currentPolicy(): Readonly<OutboxPolicy> {
    return this.policy;
  }

  /**
   * Call inside a WriteQueue write, in the same transaction as the item itself. When the quota is
   * exceeded, rows are evicted in that same transaction, so the bound holds at every commit.
   */
  enqueue(kind: OutboxKind, itemId: string, body: unknown, nowMs: number, ttlMs: number | null = null): void {
    this.enqueueJson(kind, itemId, JSON.stringify(body), nowMs, ttlMs);
  }

  /** An evidence image (JSON with its bytes inside), in the alert-update class. Call inside a write. */
  enqueueMedia(itemId: string, json: string, nowMs: number): void {
    this.insert.run(OUTBOX_CLASSES['alert-update'], 'media', itemId, nowMs, null, Buffer.byteLength(json), json);
    if (this.policy.quotaBytes !== null) this.enforceQuota();
  }

  /** The same, for an item already serialised (the pipeline stores the same JSON in events). */
  enqueueJson(kind: OutboxKind, itemId: string, json: string, nowMs: number, ttlMs: number | null = null): void {
    this.insertJson(kind, itemId, json, nowMs, ttlMs);
    if (this.policy.quotaBytes !== null) this.enforceQuota();
  }

  /**
   * Inserts without checking the quota: for a writer that adds many rows in one transaction and
   * calls enforceQuota() once before committing (the bound still holds at every commit).
   */
  insertJson(kind: OutboxKind, itemId: string, json: string, nowMs: number, ttlMs: number | null = null): void {
    this.insert.run(OUTBOX_CLASSES[kind], kind, itemId, nowMs, ttlMs === null ? null : nowMs + ttlMs, Buffer.byteLength(json), json);
  }

  /**
   * Evicts the lowest class, oldest first, until the outbox fits its quota. Alerts and alert
   * updates are evicted only when the operator allowed it; otherwise the outbox may stay over
   * quota (reported in status) rather than lose an alert.
   */
  enforceQuota(): number[] {
    const evictedPerClass = [0, 0, 0, 0];
    const quota = this.policy.quotaBytes;
    if (quota === null) return evictedPerClass;
    let total = this.totalBytes();
    if (total <= quota) return evictedPerClass;
    const lowestAllowed = this.policy.evictAlerts ? OUTBOX_CLASSES.alert : OUTBOX_CLASSES.event;
    for (let cls = OUTBOX_CLASSES.telemetry; cls >= lowestAllowed && total > quota; cls--) {
      while (total > quota) {
        const rows = this.stmt('SELECT seq, bytes FROM outbox WHERE class = ? ORDER BY seq LIMIT ?').all(cls, EVICT_BATCH) as { seq: number; bytes: number }[];
        if (rows.length === 0) break;
        let lastSeq = 0;
        let n = 0;
        for (const row of rows) {
          total -= row.bytes;
          lastSeq = row.seq;
          n++;
          if (total <= quota) break;
        }
        this.stmt('DELETE FROM outbox WHERE class = ? AND seq <= ?').run(cls, lastSeq);
        this.stmt('UPDATE outbox_totals SET evicted = evicted + ? WHERE class = ?').run(n, cls);
        evictedPerClass[cls]! += n;
      }
    }
    return evictedPerClass;
  }

  /** Drops rows past their time to live (per-kind policy or the row's own expiry). Call inside a write. */
  expire(nowMs: number): number[] {
    const expiredPerClass = [0, 0, 0, 0];
    const count = (cls: number, n: number) => {
      if (n === 0) return;
      expiredPerClass[cls]! += n;
      this.stmt('UPDATE outbox_totals SET expired = expired + ? WHERE class = ?').run(n, cls);
    };
    for (const kind of OUTBOX_KINDS) {
      const ttl = this.policy.ttlMs[kind];
      if (ttl === null || ttl === undefined) continue;
      const cls = OUTBOX_CLASSES[kind];
      count(cls, this.stmt('DELETE FROM outbox WHERE class = ? AND created_ms <= ?').run(cls, nowMs - ttl).changes);
    }
    const own = this.stmt('SELECT class, COUNT(*) AS n FROM outbox WHERE expires_ms IS NOT NULL AND expires_ms <= ? GROUP BY class').all(nowMs) as {
      class: number;
      n: number;
    }[];
    if (own.length > 0) {
      this.stmt('DELETE FROM outbox WHERE expires_ms IS NOT NULL AND expires_ms <= ?').run(nowMs);
      for (const row of own) count(row.class, row.n);
    }
    return expiredPerClass;
  }

  totalBytes(): number {
    return (this.stmt('SELECT COALESCE(SUM(bytes), 0) AS b FROM outbox_totals').get() as { b: number }).b;
  }

  /** Per-class counts, bytes, evictions, expiries and oldest row, cheaply (no table scan). */
  totals(): OutboxClassTotals[] {
    const rows = this.stmt('SELECT class, count, bytes, evicted, expired FROM outbox_totals ORDER BY class').all() as {
      class: number;
      count: number;
      bytes: number;
      evicted: number;
      expired: number;
    }[];
    const oldest = this.stmt('SELECT created_ms FROM outbox WHERE class = ? ORDER BY seq LIMIT 1');
    return rows.map((r) => ({
      kind: KIND_OF_CLASS[r.class]!,
      count: r.count,
      bytes: r.bytes,
      evicted: r.evicted,
      expired: r.expired,
      oldestMs: r.count > 0 ? ((oldest.get(r.class) as { created_ms: number } | undefined)?.created_ms ?? null) : null,
    }));
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

  /**
   * The uplink's read: like batch() but only what an envelope needs, as raw rows (no per-row
   * objects), because the drain reads every row once and this is its hottest query.
   */
  sendBatch(cls: number, afterSeq: number, maxItems: number, maxBytes: number): SendBatch | null {
    const stmt = (this.lazy['sendBatch'] ??= this.db.prepare('SELECT seq, bytes, body, kind FROM outbox WHERE class = ? AND seq > ? ORDER BY seq LIMIT ?').raw(true));
    const rows = stmt.all(cls, afterSeq, maxItems) as [number, number, string, OutboxRowKind][];
    if (rows.length === 0) return null;
    const kind = rows[0]![3];
    const bodies: string[] = [];
    let bytes = 0;
    let lastSeq = 0;
    for (const [seq, size, body, rowKind] of rows) {
      // One kind per envelope (each kind has its topic), and one image per envelope.
      if (bodies.length > 0 && (bytes + size > maxBytes || rowKind !== kind || kind === 'media')) break;
      bodies.push(body);
      bytes += size;
      lastSeq = seq;
    }
    return { kind, cls, firstSeq: rows[0]![0], lastSeq, bodies, bytes };
  }

  /** Removes rows once the platform acknowledged the envelope that carried them. */
  remove(seqs: number[]): void {
    inTransaction(this.db, () => {
      for (const seq of seqs) this.deleteStmt.run(seq);
    });
  }

  /**
   * Removes one envelope's rows: a batch is every row of its class between its first and last
   * seq (seqs only grow, so no row can appear inside that range later).
   */
  removeRange(cls: number, firstSeq: number, lastSeq: number): number {
    return this.stmt('DELETE FROM outbox WHERE class = ? AND seq BETWEEN ? AND ?').run(cls, firstSeq, lastSeq).changes;
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
  }

  /** Item ids per kind, in send order: for tests and support tooling. */
  itemIds(kind?: OutboxKind): string[] {
    const rows = (
      kind
        ? this.stmt('SELECT item_id FROM outbox WHERE class = ? ORDER BY seq').all(OUTBOX_CLASSES[kind])
        : this.stmt('SELECT item_id FROM outbox ORDER BY class, seq').all()
    ) as { item_id: string }[];
    return rows.map((r) => r.item_id);
  }
}
