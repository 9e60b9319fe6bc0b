import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion } from '../../../gateway/store/database.ts';
import { MIGRATIONS } from '../../../gateway/store/migrations.ts';

describe('database', () => {
  it('opens in WAL mode with synchronous FULL and applies migrations', () => {
    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'gg-db-')), 'a.db'));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(schemaVersion(db)).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
  });

  it('backs the database up before migrating an existing one forward', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gg-db-')), 'b.db');
    openDatabase(file, { migrations: [{ version: 1, name: 'one', up: (d) => d.exec('CREATE TABLE a (x)') }] }).close();
    const backups: string[] = [];
    const db = openDatabase(file, {
      migrations: [
        { version: 1, name: 'one', up: (d) => d.exec('CREATE TABLE a (x)') },
        { version: 2, name: 'two', up: (d) => d.exec('CREATE TABLE b (x)') },
      ],
      onBackup: (path) => backups.push(path),
    });
    expect(schemaVersion(db)).toBe(2);
    expect(backups).toEqual([`${file}.v1.bak`]);
    expect(existsSync(`${file}.v1.bak`)).toBe(true);
    const old = openDatabase(`${file}.v1.bak`, { migrations: [] });
    expect(schemaVersion(old)).toBe(1);
  });

  it('a failing migration leaves the previous version intact', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gg-db-')), 'c.db');
    expect(() =>
      openDatabase(file, {
        migrations: [
          { version: 1, name: 'one', up: (d) => d.exec('CREATE TABLE a (x)') },
          { version: 2, name: 'bad', up: (d) => d.exec('CREATE TABLE nonsense (') },
        ],
      }),
    ).toThrow();
    expect(schemaVersion(openDatabase(file, { migrations: [] }))).toBe(1);
  });
});
