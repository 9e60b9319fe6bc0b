import type { Database, Statement } from 'better-sqlite3';
import type { WatchLevel } from '../core/model.ts';

export type CredentialType = 'card' | 'plate' | 'face';

export interface PersonRecord {
  id: string;
  kind: 'resident' | 'visitor';
  name: string;
  care: boolean;
  houses: string[];
  relation?: string;
  validFromMs: number | null;
  validToMs: number | null;
  credentials: { type: CredentialType; value: string }[];
}

export interface WatchRecord {
  id: string;
  subjectType: 'card' | 'plate' | 'person' | 'face';
  subjectValue: string;
  level: WatchLevel;
  reason: string;
  validFromMs: number | null;
  validToMs: number | null;
}

/** Normalises a plate so that 闽A·12345, 闽a 12345 and 闽A12345 are the same subject. */
export function normalizePlate(plate: string): string {
  return plate.replace(/[\s·•.\-]/g, '').toUpperCase();
}

export function normalizeCredential(type: string, value: string): string {
  return type === 'plate' ? normalizePlate(value) : value.trim();
}

/** 一标三实 registry and 布控 watchlist, persisted; the identifier keeps an in-memory index of it. */
export class RegistryRepo {
  private upsertPerson: Statement;
  private deleteCreds: Statement;
  private insertCred: Statement;
  private deletePersonStmt: Statement;
  private upsertWatch: Statement;
  private deleteWatchStmt: Statement;

  constructor(private readonly db: Database) {
    this.upsertPerson = db.prepare(`
      INSERT INTO persons (id, kind, name, care, valid_from_ms, valid_to_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, name = excluded.name, care = excluded.care,
        valid_from_ms = excluded.valid_from_ms, valid_to_ms = excluded.valid_to_ms, body = excluded.body`);
    this.deleteCreds = db.prepare('DELETE FROM credentials WHERE person_id = ?');
    this.insertCred = db.prepare('INSERT OR REPLACE INTO credentials (type, value, person_id) VALUES (?, ?, ?)');
    this.deletePersonStmt = db.prepare('DELETE FROM persons WHERE id = ?');
    this.upsertWatch = db.prepare(`
      INSERT INTO watchlist (id, subject_type, subject_value, level, reason, valid_from_ms, valid_to_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET subject_type = excluded.subject_type, subject_value = excluded.subject_value, level = excluded.level,
        reason = excluded.reason, valid_from_ms = excluded.valid_from_ms, valid_to_ms = excluded.valid_to_ms, body = excluded.body`);
    this.deleteWatchStmt = db.prepare('DELETE FROM watchlist WHERE id = ?');
  }

  savePerson(p: PersonRecord): void {
    this.upsertPerson.run(p.id, p.kind, p.name, p.care ? 1 : 0, p.validFromMs, p.validToMs, JSON.stringify(p));
    this.deleteCreds.run(p.id);
    for (const c of p.credentials) this.insertCred.run(c.type, normalizeCredential(c.type, c.value), p.id);
  }

  deletePerson(id: string): void {
    this.deletePersonStmt.run(id);
  }

  persons(): PersonRecord[] {
    return (this.db.prepare('SELECT body FROM persons').all() as { body: string }[]).map((r) => JSON.parse(r.body) as PersonRecord);
  }

  saveWatch(w: WatchRecord): void {
    this.upsertWatch.run(w.id, w.subjectType, normalizeCredential(w.subjectType, w.subjectValue), w.level, w.reason, w.validFromMs, w.validToMs, JSON.stringify(w));
  }

  deleteWatch(id: string): void {
    this.deleteWatchStmt.run(id);
  }

  watchlist(): WatchRecord[] {
    return (this.db.prepare('SELECT body FROM watchlist').all() as { body: string }[]).map((r) => JSON.parse(r.body) as WatchRecord);
  }

  countPersons(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM persons').get() as { n: number }).n;
  }
}
