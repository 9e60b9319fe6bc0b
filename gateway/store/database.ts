import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { MIGRATIONS, type Migration } from './migrations.ts';

export type { Database };

export interface OpenOptions {
  /** FULL (default): every commit is fsynced, so what was acknowledged survives a power cut. */
  synchronous?: 'FULL' | 'NORMAL';
  migrations?: Migration[];
  /** Called with the backup path before migrations run on an existing database. */
  onBackup?: (path: string, from: number, to: number) => void;
}

export function openDatabase(file: string, options: OpenOptions = {}): Database {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const existed = file !== ':memory:' && existsSync(file);
  const db = new BetterSqlite3(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, file, existed, options);
  return db;
}

export function schemaVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function migrate(db: Database, file: string, existed: boolean, options: OpenOptions): void {
  const migrations = options.migrations ?? MIGRATIONS;
  const current = schemaVersion(db);
  const pending = migrations.filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  if (pending.length === 0) return;
  const target = pending[pending.length - 1]!.version;
  if (existed && current > 0) {
    // Forward-only migrations: keep a copy to roll back to with the previous release.
    db.pragma('wal_checkpoint(TRUNCATE)');
    const backup = `${file}.v${current}.bak`;
    copyFileSync(file, backup);
    options.onBackup?.(backup, current, target);
  }
  for (const migration of pending) {
    db.transaction(() => {
      migration.up(db);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
}
