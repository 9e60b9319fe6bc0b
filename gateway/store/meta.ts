import type { Database, Statement } from 'better-sqlite3';

/** Small key/value facts about the gateway itself (e.g. when it last ran). */
export class MetaRepo {
  private getStmt: Statement;
  private setStmt: Statement;

  constructor(db: Database) {
    this.getStmt = db.prepare('SELECT value FROM meta WHERE key = ?');
    this.setStmt = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
  }

  get(key: string): string | undefined {
    return (this.getStmt.get(key) as { value: string } | undefined)?.value;
  }

  set(key: string, value: string): void {
    this.setStmt.run(key, value);
  }
}
