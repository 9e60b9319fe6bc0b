import type { Database, Statement } from 'better-sqlite3';
import type { DeviceEvent } from '../core/model.ts';

export interface EventQuery {
  fromMs?: number;
  toMs?: number;
  deviceId?: string;
  type?: string;
  /** e.g. card:12345678, plate:闽A12345, person:p001 */
  subjectKey?: string;
  limit?: number;
  /** Page backwards from this event id (exclusive). */
  before?: string;
}

/** The one key an event is searched by: the strongest reference it carries. */
export function subjectKeyOf(event: Pick<DeviceEvent, 'subjects' | 'identity'>): string | null {
  const s = event.subjects;
  if (event.identity?.personId) return `person:${event.identity.personId}`;
  if (s.personId) return `person:${s.personId}`;
  if (s.cardNo) return `card:${s.cardNo}`;
  if (s.plate) return `plate:${s.plate}`;
  if (s.faceId) return `face:${s.faceId}`;
  return null;
}

/** An event as the columns of its row, the last being its JSON: what a writer thread is sent. */
export type EventRow = [id: string, deviceId: string, type: string, deviceTime: string, receivedMs: number, subjectKey: string | null, identityKind: string | null, body: string];

export function eventRow(event: DeviceEvent, json: string = JSON.stringify(event)): EventRow {
  return [event.id, event.deviceId, event.type, event.deviceTime, Date.parse(event.receivedAt), subjectKeyOf(event), event.identity?.kind ?? null, json];
}

export class EventsRepo {
  private insertStmt: Statement;
  private getStmt: Statement;
  private deleteBeforeStmt: Statement;

  constructor(private readonly db: Database) {
    this.insertStmt = db.prepare(
      'INSERT INTO events (id, device_id, type, device_time, received_ms, subject_key, identity_kind, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.getStmt = db.prepare('SELECT body FROM events WHERE id = ?');
    this.deleteBeforeStmt = db.prepare('DELETE FROM events WHERE rowid IN (SELECT rowid FROM events WHERE received_ms < ? ORDER BY received_ms LIMIT ?)');
  }

  /** Deletes up to `limit` events received before `beforeMs`, oldest first; returns how many (retention). */
  deleteBefore(beforeMs: number, limit: number): number {
    return this.deleteBeforeStmt.run(beforeMs, limit).changes;
  }

  /** `json` is the event serialised, when the caller has it already. */
  insert(event: DeviceEvent, json: string = JSON.stringify(event)): void {
    this.insertRow(eventRow(event, json));
  }

  insertRow(row: EventRow): void {
    this.insertStmt.run(...row);
  }

  get(id: string): DeviceEvent | undefined {
    const row = this.getStmt.get(id) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as DeviceEvent) : undefined;
  }

  query(q: EventQuery): DeviceEvent[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.fromMs !== undefined) (where.push('received_ms >= ?'), args.push(q.fromMs));
    if (q.toMs !== undefined) (where.push('received_ms < ?'), args.push(q.toMs));
    if (q.deviceId) (where.push('device_id = ?'), args.push(q.deviceId));
    if (q.type) (where.push('type = ?'), args.push(q.type));
    if (q.subjectKey) (where.push('subject_key = ?'), args.push(q.subjectKey));
    if (q.before) (where.push('id < ?'), args.push(q.before));
    const sql = `SELECT body FROM events ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
    args.push(Math.min(q.limit ?? 100, 1000));
    return (this.db.prepare(sql).all(...args) as { body: string }[]).map((r) => JSON.parse(r.body) as DeviceEvent);
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
  }
}
