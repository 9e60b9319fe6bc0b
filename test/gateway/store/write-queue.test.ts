import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../gateway/store/database.ts';
import { WriteQueue } from '../../../gateway/store/write-queue.ts';

function db() {
  const d = openDatabase(join(mkdtempSync(join(tmpdir(), 'gg-wq-')), 'x.db'), { migrations: [] });
  d.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
  return d;
}

describe('WriteQueue (group commit)', () => {
  it('commits writes queued in the same tick as one transaction', async () => {
    const d = db();
    const q = new WriteQueue(d);
    await Promise.all(Array.from({ length: 50 }, (_, i) => q.write((x) => x.prepare('INSERT INTO t VALUES (?)').run(`k${i}`))));
    expect(q.stats).toMatchObject({ batches: 1, writes: 50, failed: 0 });
    expect((d.prepare('SELECT COUNT(*) n FROM t').get() as { n: number }).n).toBe(50);
  });

  it('rejects a failing write alone; the rest of its batch commits', async () => {
    const d = db();
    const q = new WriteQueue(d);
    const results = await Promise.allSettled([
      q.write((x) => x.prepare('INSERT INTO t VALUES (?)').run('a')),
      q.write((x) => x.prepare('INSERT INTO t VALUES (?)').run('a')), // duplicate key
      q.write((x) => x.prepare('INSERT INTO t VALUES (?)').run('b')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((d.prepare('SELECT k FROM t ORDER BY k').all() as { k: string }[]).map((r) => r.k)).toEqual(['a', 'b']);
    expect(q.stats.failed).toBe(1);
  });

  it('a failing write leaves no partial effect of its own', async () => {
    const d = db();
    const q = new WriteQueue(d);
    await expect(
      q.write((x) => {
        x.prepare('INSERT INTO t VALUES (?)').run('half');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(d.prepare('SELECT COUNT(*) n FROM t').get()).toEqual({ n: 0 });
  });

  it('resolves only after commit: the data is visible to a second connection', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gg-wq-')), 'y.db');
    const d = openDatabase(file, { migrations: [] });
    d.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
    const q = new WriteQueue(d);
    await q.write((x) => x.prepare('INSERT INTO t VALUES (?)').run('durable'));
    const other = openDatabase(file, { migrations: [] });
    expect(other.prepare('SELECT k FROM t').get()).toEqual({ k: 'durable' });
  });

  it('refuses writes after close', async () => {
    const q = new WriteQueue(db());
    q.close();
    await expect(q.write(() => 1)).rejects.toThrow(/closed/);
  });
});
