import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceEvent } from '../../../gateway/core/model.ts';
import { newId } from '../../../gateway/core/ids.ts';
import { Store } from '../../../gateway/store/store.ts';
import { waitFor } from '../../helpers/net.ts';

function dbFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'gg-evlog-')), 'gridguard.db');
}

function event(overrides: Partial<DeviceEvent> = {}): DeviceEvent {
  const now = new Date().toISOString();
  return {
    id: newId(),
    deviceTime: now,
    receivedAt: now,
    deviceId: 'ac-1',
    deviceKind: 'access-controller',
    type: 'access.granted',
    codes: { communityGridCode: 'CG1', policeGridCode: 'PG1' },
    place: { label: '1号门' },
    subjects: { cardNo: '1001' },
    payload: {},
    ...overrides,
  } as DeviceEvent;
}

const append = (store: Store, e: DeviceEvent) => store.eventLog.append(e, JSON.stringify(e), Date.now());

describe('events committed by the writer thread', () => {
  const open: Store[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close().catch(() => {});
  });
  async function threaded(file = dbFile()): Promise<Store> {
    const store = await Store.openThreaded(file);
    open.push(store);
    return store;
  }

  it('resolves only after the event and its outbox row are committed: another connection sees both', async () => {
    const file = dbFile();
    const store = await threaded(file);
    const e = event();
    await append(store, e);
    const other = new BetterSqlite3(file, { readonly: true });
    expect(other.prepare('SELECT id, subject_key FROM events').all()).toEqual([{ id: e.id, subject_key: 'card:1001' }]);
    expect(other.prepare("SELECT item_id FROM outbox WHERE kind = 'event'").all()).toEqual([{ item_id: e.id }]);
    other.close();
    expect(store.events.get(e.id)).toEqual(e);
    expect(store.eventLog.stats).toMatchObject({ batches: 1, writes: 1, failed: 0 });
  });

  it('commits a burst in few transactions, in order', async () => {
    const store = await threaded();
    const events = Array.from({ length: 3000 }, () => event());
    await Promise.all(events.map((e) => append(store, e)));
    expect(store.outbox.itemIds('event')).toEqual(events.map((e) => e.id));
    const stats = store.eventLog.stats!;
    expect(stats.writes).toBe(3000);
    expect(stats.batches).toBeLessThan(3000);
    expect(stats.largestBatch).toBeLessThanOrEqual(1000);
  });

  it('rejects a failing event alone; the rest of its batch commits', async () => {
    const store = await threaded();
    const a = event();
    const results = await Promise.allSettled([append(store, a), append(store, a), append(store, event())]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE constraint failed: events.id/);
    expect(store.events.count()).toBe(2);
    expect(store.outbox.count()).toBe(2);
    expect(store.eventLog.stats!.failed).toBe(1);
  });

  it('acknowledges nothing while the database cannot grow, and resumes when it can', async () => {
    const store = await threaded();
    await append(store, event());
    await store.setMaxPageCount(store.db.pragma('page_count', { simple: true }) as number);
    const big = Array.from({ length: 200 }, () => event({ payload: { pad: 'x'.repeat(4000) } }));
    const results = await Promise.allSettled(big.map((e) => append(store, e)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/full/);
    expect(store.events.count()).toBe(1);
    expect(store.writeStats().failed).toBe(200);
    await store.setMaxPageCount(1_073_741_823);
    await append(store, event());
    expect(store.events.count()).toBe(2);
  });

  it('takes turns with the main connection: its writes commit between batches, never blocked', async () => {
    const store = await threaded();
    store.db.pragma('busy_timeout = 0'); // a collision would fail with SQLITE_BUSY instead of waiting
    const appends: Promise<void>[] = [];
    const mains: Promise<unknown>[] = [];
    for (let round = 0; round < 20; round++) {
      for (let k = 0; k < 200; k++) appends.push(append(store, event()));
      mains.push(store.writes.write(() => store.meta.set(`round-${round}`, String(round))));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all([...appends, ...mains]);
    expect(store.events.count()).toBe(4000);
    expect(store.meta.get('round-19')).toBe('19');
    expect(store.writes.stats.failed).toBe(0);
  });

  it('keeps the writer fed with a second batch, but commits a main-connection write before any further batch', async () => {
    const store = await threaded();
    const log = store.eventLog as unknown as { inFlight: unknown[][] };
    const maxInFlight: number[] = [];
    const order: string[] = [];
    const first = Array.from({ length: 3000 }, () => event());
    const appends = first.map((e) => append(store, e).then(() => order.push('event')));
    await new Promise((r) => setImmediate(r));
    maxInFlight.push(log.inFlight.length);
    // Queued while batches are in flight: must commit before the events appended after it.
    const main = store.writes.write(() => store.meta.set('k', 'v')).then(() => order.push('main'));
    const later = Array.from({ length: 10 }, () => append(store, event()).then(() => order.push('later')));
    await Promise.all([...appends, main, ...later]);
    expect(maxInFlight[0]).toBe(2);
    expect(order.indexOf('main')).toBeLessThan(order.indexOf('later'));
    expect(store.events.count()).toBe(3010);
  });

  it('applies the outbox quota in its own transactions', async () => {
    const store = await threaded();
    store.outbox.configure({ quotaBytes: 20_000, evictAlerts: false, ttlMs: {} });
    await Promise.all(Array.from({ length: 100 }, () => append(store, event({ payload: { pad: 'y'.repeat(500) } }))));
    expect(store.outbox.totalBytes()).toBeLessThanOrEqual(20_000);
    expect(store.events.count()).toBe(100);
    expect(store.outbox.totals().find((t) => t.kind === 'event')!.evicted).toBeGreaterThan(0);
  });

  it('close() commits everything appended before it, then refuses appends', async () => {
    const file = dbFile();
    const store = await Store.openThreaded(file);
    const pending = Array.from({ length: 500 }, () => append(store, event()));
    await store.close();
    await Promise.all(pending);
    await expect(append(store, event())).rejects.toThrow(/closed/);
    const reopened = Store.open(file);
    expect(reopened.events.count()).toBe(500);
    reopened.close();
  });

  it('checkpoints on the writer thread, also what only the main connection wrote', async () => {
    const file = dbFile();
    const store = await threaded(file);
    expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const before = statSync(file).size;
    await store.writes.write(() => {
      for (let i = 0; i < 500; i++) store.meta.set(`k${i}`, 'x'.repeat(4000));
    });
    expect(statSync(file).size).toBe(before); // still only in the WAL
    await waitFor(() => statSync(file).size > before + 1_000_000, 'the writer thread to copy the WAL into the database file', 30_000);
  });

  it('fails appends with a clear error when the thread is gone, instead of hanging', async () => {
    const store = await threaded();
    await append(store, event());
    // What an unexpected end of the thread looks like from the main thread.
    const worker = (store.eventLog as unknown as { worker: { terminate(): Promise<number> } }).worker;
    await worker.terminate();
    await expect(append(store, event())).rejects.toThrow(/event writer thread exited unexpectedly/);
  });
});
