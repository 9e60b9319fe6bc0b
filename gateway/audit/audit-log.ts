import { createHash } from 'node:crypto';
import type { Database, Statement } from 'better-sqlite3';
import type { Clock } from '../core/clock.ts';
import type { Store } from '../store/store.ts';

/** What was looked at or taken away. */
export const AUDIT_ACTIONS = [
  'view.alert-subject',
  'view.person',
  'view.watchlist',
  'view.care-list',
  'view.image',
  // An image sent off the gateway (alert evidence to the platform): a disclosure, not a view.
  'disclose.image',
  'view.events',
  'export.events',
  'view.audit',
  'user.create',
  'user.update',
  'login',
  'logout',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  actor: string;
  role: string | null;
  action: AuditAction;
  /** What was seen: an alert id, a person id, an image id, a query. */
  target: string;
  /** Why: the alert being handled, or the reason the user gave for an export. */
  reason: string | null;
  ip: string | null;
  details?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  seq: number;
  at: string;
  hash: string;
}

interface Row {
  seq: number;
  at_ms: number;
  actor: string;
  role: string | null;
  action: AuditAction;
  target: string;
  reason: string | null;
  ip: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

const GENESIS = 'gridguard-audit-v1';

function chainHash(prev: string, atMs: number, e: AuditEntry, details: string): string {
  return createHash('sha256')
    .update(JSON.stringify([prev, atMs, e.actor, e.role, e.action, e.target, e.reason, e.ip, details]))
    .digest('base64url');
}

/**
 * The append-only audit log of personal-data access (PIPL; docs/console.md). SQLite triggers refuse
 * UPDATE and DELETE; each row also carries the hash of the one before it, so a row changed or
 * removed behind SQLite's back (a copied and edited file) shows up in verify().
 */
export class AuditLog {
  private lastStmt: Statement;
  private insertStmt: Statement;

  constructor(private readonly deps: { store: Store; clock: Clock }) {
    const db: Database = deps.store.db;
    this.lastStmt = db.prepare('SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1');
    this.insertStmt = db.prepare(
      'INSERT INTO audit_log (at_ms, actor, role, action, target, reason, ip, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
  }

  /** Resolves once the entry is committed: callers show the data only after it is on record. */
  record(entry: AuditEntry): Promise<number> {
    const atMs = this.deps.clock.now();
    return this.deps.store.writes.write(() => {
      const prev = (this.lastStmt.get() as { hash: string } | undefined)?.hash ?? GENESIS;
      const details = JSON.stringify(entry.details ?? {});
      const hash = chainHash(prev, atMs, entry, details);
      return Number(this.insertStmt.run(atMs, entry.actor, entry.role, entry.action, entry.target, entry.reason, entry.ip, details, prev, hash).lastInsertRowid);
    });
  }

  /** Newest first. */
  list(q: { limit?: number; before?: number; actor?: string; action?: string } = {}): AuditRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.before) (where.push('seq < ?'), args.push(q.before));
    if (q.actor) (where.push('actor = ?'), args.push(q.actor));
    if (q.action) (where.push('action = ?'), args.push(q.action));
    args.push(Math.min(q.limit ?? 100, 1000));
    const rows = this.deps.store.db
      .prepare(`SELECT * FROM audit_log ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq DESC LIMIT ?`)
      .all(...args) as Row[];
    return rows.map((r) => ({
      seq: r.seq,
      at: new Date(r.at_ms).toISOString(),
      actor: r.actor,
      role: r.role,
      action: r.action,
      target: r.target,
      reason: r.reason,
      ip: r.ip,
      details: JSON.parse(r.details) as Record<string, unknown>,
      hash: r.hash,
    }));
  }

  /** Walks the chain; returns the first seq whose hash does not follow from its predecessor. */
  verify(): { ok: true; rows: number } | { ok: false; brokenAt: number } {
    let prev = GENESIS;
    let rows = 0;
    for (const r of this.deps.store.db.prepare('SELECT * FROM audit_log ORDER BY seq').iterate() as Iterable<Row>) {
      const expected = chainHash(prev, r.at_ms, { actor: r.actor, role: r.role, action: r.action, target: r.target, reason: r.reason, ip: r.ip }, r.details);
      if (r.prev_hash !== prev || r.hash !== expected) return { ok: false, brokenAt: r.seq };
      prev = r.hash;
      rows++;
    }
    return { ok: true, rows };
  }
}
