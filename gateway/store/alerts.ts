import type { Database, Statement } from 'better-sqlite3';
import type { Alert, AlertStatus } from '../core/model.ts';

export interface AlertLogEntry {
  seq: number;
  alertId: string;
  change: string;
  atMs: number;
  alert: Alert;
}

export interface AlertQuery {
  status?: AlertStatus[];
  severity?: string[];
  category?: string[];
  limit?: number;
  before?: string;
}

export class AlertsRepo {
  private upsertStmt: Statement;
  private getStmt: Statement;
  private logStmt: Statement;
  private openByMergeStmt: Statement;
  private logSinceStmt: Statement;
  private lastSeqStmt: Statement;
  private deleteLogStmt: Statement;

  constructor(private readonly db: Database) {
    this.upsertStmt = db.prepare(`
      INSERT INTO alerts (id, rule_id, severity, category, status, raised_ms, updated_ms, merge_key, last_trigger_ms, body)
      VALUES (@id, @ruleId, @severity, @category, @status, @raisedMs, @updatedMs, @mergeKey, @lastTriggerMs, @body)
      ON CONFLICT(id) DO UPDATE SET severity = excluded.severity, status = excluded.status, updated_ms = excluded.updated_ms,
        last_trigger_ms = excluded.last_trigger_ms, body = excluded.body`);
    this.getStmt = db.prepare('SELECT body FROM alerts WHERE id = ?');
    this.logStmt = db.prepare('INSERT INTO alert_log (alert_id, change, at_ms, body) VALUES (?, ?, ?, ?)');
    this.openByMergeStmt = db.prepare(
      `SELECT body FROM alerts WHERE rule_id = ? AND merge_key = ? AND last_trigger_ms >= ?
         AND status NOT IN ('resolved', 'false-alarm') ORDER BY last_trigger_ms DESC LIMIT 1`,
    );
    // A merge's entry keeps no copy of the body (see save): it reads the alert's current one.
    this.logSinceStmt = db.prepare(
      `SELECT l.seq, l.alert_id, l.change, l.at_ms, CASE WHEN l.body = '' THEN a.body ELSE l.body END AS body
         FROM alert_log l LEFT JOIN alerts a ON l.body = '' AND a.id = l.alert_id
        WHERE l.seq > ? ORDER BY l.seq LIMIT ?`,
    );
    this.lastSeqStmt = db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM alert_log');
    this.deleteLogStmt = db.prepare('DELETE FROM alert_log WHERE seq IN (SELECT seq FROM alert_log WHERE at_ms < ? ORDER BY seq LIMIT ?)');
  }

  /**
   * Saves the alert and appends to the change log; returns the log sequence number. A merge (the
   * same alert triggered again) logs no copy of the body: a busy door's alert merges dozens of
   * times, each body a few KB with its evidence, and the log's readers (the console's live stream)
   * want the alert as it is now, which the alerts row holds. Raises and status changes keep theirs.
   */
  save(alert: Alert, change: string): number {
    const body = JSON.stringify(alert);
    this.upsertStmt.run({
      id: alert.id,
      ruleId: alert.ruleId,
      severity: alert.severity,
      category: alert.category,
      status: alert.status,
      raisedMs: Date.parse(alert.raisedAt),
      updatedMs: Date.parse(alert.updatedAt),
      mergeKey: alert.mergeKey,
      lastTriggerMs: Date.parse(alert.lastTriggeredAt),
      body,
    });
    return Number(this.logStmt.run(alert.id, change, Date.parse(alert.updatedAt), change === 'merged' ? '' : body).lastInsertRowid);
  }

  get(id: string): Alert | undefined {
    const row = this.getStmt.get(id) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as Alert) : undefined;
  }

  /** The open alert a new trigger merges into, if one was triggered since `sinceMs`. */
  openForMerge(ruleId: string, mergeKey: string, sinceMs: number): Alert | undefined {
    const row = this.openByMergeStmt.get(ruleId, mergeKey, sinceMs) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as Alert) : undefined;
  }

  list(q: AlertQuery = {}): Alert[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const inList = (column: string, values?: string[]) => {
      if (!values?.length) return;
      where.push(`${column} IN (${values.map(() => '?').join(',')})`);
      args.push(...values);
    };
    inList('status', q.status);
    inList('severity', q.severity);
    inList('category', q.category);
    if (q.before) (where.push('id < ?'), args.push(q.before));
    args.push(Math.min(q.limit ?? 100, 1000));
    const sql = `SELECT body FROM alerts ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args) as { body: string }[]).map((r) => JSON.parse(r.body) as Alert);
  }

  /** Changes after `seq`, in order; a merge's entry carries the alert as it is now. */
  logSince(seq: number, limit = 500): AlertLogEntry[] {
    const rows = this.logSinceStmt.all(seq, limit) as { seq: number; alert_id: string; change: string; at_ms: number; body: string | null }[];
    const entries: AlertLogEntry[] = [];
    for (const r of rows) {
      // Alerts are never deleted; a merge whose alert row is missing has nothing to show.
      if (r.body === null) continue;
      entries.push({ seq: r.seq, alertId: r.alert_id, change: r.change, atMs: r.at_ms, alert: JSON.parse(r.body) as Alert });
    }
    return entries;
  }

  /**
   * Deletes up to `limit` change-log entries older than `beforeMs`, oldest first; returns how many.
   * The log is what the console's stream replays on resume, and a raise or status change keeps a
   * copy of the alert (names, places) there; the alerts row keeps the alert as it is now.
   */
  deleteLogBefore(beforeMs: number, limit: number): number {
    return this.deleteLogStmt.run(beforeMs, limit).changes;
  }

  lastSeq(): number {
    return (this.lastSeqStmt.get() as { seq: number }).seq;
  }

  countOpen(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM alerts WHERE status NOT IN ('resolved','false-alarm')").get() as { n: number }).n;
  }

  /** Alerts nobody has acknowledged yet (status 'new'), oldest first: escalation re-arms from these at start. */
  unacknowledged(): Alert[] {
    return (this.db.prepare("SELECT body FROM alerts WHERE status = 'new' ORDER BY raised_ms").all() as { body: string }[]).map(
      (r) => JSON.parse(r.body) as Alert,
    );
  }
}
