import { describe, expect, it } from 'vitest';
import { Store } from '../../../gateway/store/store.ts';
import type { OutboxKind } from '../../../gateway/store/outbox.ts';

const T0 = Date.parse('2026-11-01T00:00:00Z');

function openStore(): Store {
  return Store.open(':memory:');
}

/** Enqueues an item whose JSON body is exactly `bytes` long. */
function put(store: Store, kind: OutboxKind, id: string, bytes: number, nowMs = T0): void {
  const overhead = JSON.stringify({ id, pad: '' }).length;
  store.writes.write(() => store.outbox.enqueue(kind, id, { id, pad: 'x'.repeat(bytes - overhead) }, nowMs));
  store.writes.flush();
}

describe('outbox quota, eviction and time to live', () => {
  it('keeps running totals per class in step with the rows (triggers)', () => {
    const store = openStore();
    put(store, 'event', 'e1', 100);
    put(store, 'alert', 'a1', 200);
    put(store, 'event', 'e2', 100);
    const totals = Object.fromEntries(store.outbox.totals().map((t) => [t.kind, t]));
    expect(totals.event).toMatchObject({ count: 2, bytes: 200, evicted: 0, oldestMs: T0 });
    expect(totals.alert).toMatchObject({ count: 1, bytes: 200 });
    expect(totals.telemetry).toMatchObject({ count: 0, bytes: 0, oldestMs: null });
    const [first] = store.outbox.batch(2, 0, 1, 1e6);
    store.outbox.remove([first!.seq]);
    expect(store.outbox.totals().find((t) => t.kind === 'event')).toMatchObject({ count: 1, bytes: 100 });
    expect(store.outbox.totalBytes()).toBe(300);
  });

  it('evicts telemetry, then events, oldest first, and never alerts by default', () => {
    const store = openStore();
    store.outbox.configure({ quotaBytes: 1000, evictAlerts: false, ttlMs: {} });
    put(store, 'alert', 'a1', 300);
    put(store, 'event', 'e1', 100);
    put(store, 'telemetry', 't1', 100);
    put(store, 'event', 'e2', 100);
    put(store, 'telemetry', 't2', 100);
    put(store, 'alert-update', 'u1', 300); // 1000 bytes: exactly at quota, nothing evicted
    expect(store.outbox.count()).toBe(6);
    put(store, 'event', 'e3', 150); // 1150: drop t1 (100), t2 (100) → 950
    expect(store.outbox.itemIds()).toEqual(['a1', 'u1', 'e1', 'e2', 'e3']);
    put(store, 'alert', 'a2', 200); // 1150: drop e1, e2 → 950
    expect(store.outbox.itemIds()).toEqual(['a1', 'a2', 'u1', 'e3']);
    put(store, 'alert', 'a3', 400); // 1350: drop e3 → 1200, then nothing evictable: over quota, alerts kept
    expect(store.outbox.itemIds()).toEqual(['a1', 'a2', 'a3', 'u1']);
    const totals = Object.fromEntries(store.outbox.totals().map((t) => [t.kind, t]));
    expect(totals.telemetry!.evicted).toBe(2);
    expect(totals.event!.evicted).toBe(3);
    expect(totals.alert!.evicted).toBe(0);
    expect(store.outbox.totalBytes()).toBe(1200);
  });

  it('evicts alerts (oldest alert updates before alerts) only when the operator allows it', () => {
    const store = openStore();
    store.outbox.configure({ quotaBytes: 500, evictAlerts: true, ttlMs: {} });
    put(store, 'alert', 'a1', 200);
    put(store, 'alert-update', 'u1', 200);
    put(store, 'alert', 'a2', 200);
    expect(store.outbox.itemIds()).toEqual(['a1', 'a2']);
    put(store, 'alert', 'a3', 200);
    expect(store.outbox.itemIds()).toEqual(['a2', 'a3']);
  });

  it('expires by per-class time to live and by a row’s own expiry, counting each', () => {
    const store = openStore();
    store.outbox.configure({ quotaBytes: null, evictAlerts: false, ttlMs: { telemetry: 60_000 } });
    put(store, 'telemetry', 't-old', 100, T0);
    put(store, 'telemetry', 't-new', 100, T0 + 30_000);
    put(store, 'alert', 'a-old', 100, T0);
    store.writes.write(() => store.outbox.enqueue('event', 'e-short', { id: 'e-short' }, T0, 10_000));
    put(store, 'event', 'e-keep', 100, T0);
    store.writes.flush();
    store.outbox.expire(T0 + 60_000);
    expect(store.outbox.itemIds()).toEqual(['a-old', 'e-keep', 't-new']);
    const totals = Object.fromEntries(store.outbox.totals().map((t) => [t.kind, t]));
    expect(totals.telemetry!.expired).toBe(1);
    expect(totals.event!.expired).toBe(1);
    expect(totals.alert!.expired).toBe(0);
  });

  it('rolls eviction back with the write that caused it', async () => {
    const store = openStore();
    store.outbox.configure({ quotaBytes: 300, evictAlerts: false, ttlMs: {} });
    put(store, 'event', 'e1', 200);
    const failing = store.writes.write(() => {
      store.outbox.enqueue('event', 'e2', { id: 'e2', pad: 'x'.repeat(180) }, T0);
      throw new Error('the event insert failed');
    });
    store.writes.flush();
    await expect(failing).rejects.toThrow('the event insert failed');
    expect(store.outbox.itemIds()).toEqual(['e1']);
    expect(store.outbox.totals().find((t) => t.kind === 'event')).toMatchObject({ count: 1, bytes: 200, evicted: 0 });
  });
});
