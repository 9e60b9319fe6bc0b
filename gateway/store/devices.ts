import type { Database, Statement } from 'better-sqlite3';

export interface DeviceStateRow {
  id: string;
  online: boolean;
  lastSeenMs: number | null;
  statusChangedMs: number | null;
  info: Record<string, unknown>;
}

export class DevicesRepo {
  private upsertStmt: Statement;
  private allStmt: Statement;

  constructor(db: Database) {
    this.upsertStmt = db.prepare(`
      INSERT INTO devices (id, online, last_seen_ms, status_changed_ms, info) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET online = excluded.online, last_seen_ms = excluded.last_seen_ms,
        status_changed_ms = excluded.status_changed_ms, info = excluded.info`);
    this.allStmt = db.prepare('SELECT * FROM devices');
  }

  save(row: DeviceStateRow): void {
    this.upsertStmt.run(row.id, row.online ? 1 : 0, row.lastSeenMs, row.statusChangedMs, JSON.stringify(row.info));
  }

  all(): DeviceStateRow[] {
    return (this.allStmt.all() as { id: string; online: number; last_seen_ms: number | null; status_changed_ms: number | null; info: string }[]).map(
      (r) => ({ id: r.id, online: r.online === 1, lastSeenMs: r.last_seen_ms, statusChangedMs: r.status_changed_ms, info: JSON.parse(r.info) }),
    );
  }
}
