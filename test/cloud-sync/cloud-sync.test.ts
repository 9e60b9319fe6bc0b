import { pino } from 'pino';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { CloudSync } from '../../cloud-sync/cloud-sync.ts';
import { Uplink } from '../../cloud-sync/uplink.ts';
import { loadConfigText } from '../../config/load.ts';
import { AlertService } from '../../gateway/alerts/alert-service.ts';
import { EventBus } from '../../gateway/core/bus.ts';
import { FakeClock } from '../../gateway/core/clock.ts';
import { Metrics } from '../../gateway/core/metrics.ts';
import { Identifier } from '../../gateway/identify/identifier.ts';
import { RuleEngine } from '../../gateway/rules/engine.ts';
import { Store } from '../../gateway/store/store.ts';

const SITE = {
  site: { gatewayId: 'gw-test-1', communityName: 't', communityGridCode: 'CG350102001', policeGridCode: 'PG350102600102', policeStation: 's', addressCode: 'AC3501020000', gates: [], zones: [], buildings: [] },
  platform: { url: 'mqtt://127.0.0.1:1', heartbeatSeconds: 60, outbox: { quotaBytes: 16 * 1024, ttlSeconds: { telemetry: 150 } } },
};

function setup(site: Record<string, unknown> = SITE) {
  const { config } = loadConfigText(stringify(site), 'site.yaml');
  const store = Store.open(':memory:');
  const clock = new FakeClock();
  const bus = new EventBus();
  const metrics = new Metrics();
  const log = pino({ level: 'silent' });
  const identifier = new Identifier(store.registry);
  const alerts = new AlertService({ store, bus, clock, metrics, log });
  const rules = new RuleEngine({ rules: [], site: null as never, identifier, alerts, store, bus, clock, metrics, log });
  const uplink = new Uplink({ config: config.platform!, gatewayId: 'gw-test-1', communityGridCode: 'CG350102001', version: 't', store, bus, clock, metrics, log, resolvePath: (p) => p });
  const cloudSync = new CloudSync({ config, store, bus, clock, metrics, log, identifier, alerts, rules, resolvePath: (p) => p, uplink: () => uplink });
  const flush = async () => {
    store.writes.flush();
    await new Promise((r) => setImmediate(r));
  };
  return { config, store, clock, metrics, cloudSync, flush };
}

describe('CloudSync: outbox bounds and heartbeats on a fake clock', () => {
  it('enqueues a telemetry heartbeat per interval and expires heartbeats after their time to live', async () => {
    const { store, clock, cloudSync, flush } = setup();
    cloudSync.start();
    try {
      clock.advance(60_000);
      await flush();
      expect(store.outbox.itemIds('telemetry')).toHaveLength(1);
      const row = store.outbox.sendBatch(3, 0, 10, 1e6)!;
      expect(JSON.parse(row.bodies[0]!)).toMatchObject({ type: 'heartbeat', uptimeSeconds: 60 });
      clock.advance(120_000); // heartbeats at 120 s and 180 s; sweeps every 30 s
      await flush();
      clock.advance(30_000); // 210 s: the sweep drops the 60 s heartbeat (older than 150 s)
      await flush();
      const telemetry = store.outbox.totals().find((t) => t.kind === 'telemetry')!;
      expect(telemetry.count).toBe(2);
      expect(telemetry.expired).toBe(1);
    } finally {
      cloudSync.stop();
    }
  });

  it('applies a quota lowered in the config at start-up, and exposes the totals as metrics', async () => {
    const { store, metrics, cloudSync, flush } = setup();
    // Queued under no quota (an older config), 20 × ≈ 1 KiB events and one alert.
    for (let i = 0; i < 20; i++) store.outbox.enqueue('event', `e${i}`, { id: `e${i}`, pad: 'x'.repeat(1000) }, 0);
    store.outbox.enqueue('alert', 'a1', { id: 'a1' }, 0);
    cloudSync.start();
    try {
      await flush();
      expect(store.outbox.totalBytes()).toBeLessThanOrEqual(16 * 1024);
      expect(store.outbox.itemIds('alert')).toEqual(['a1']);
      expect(store.outbox.itemIds('event')).toEqual(Array.from({ length: 20 }, (_, i) => `e${i}`).slice(20 - store.outbox.itemIds('event').length));
      const text = await metrics.registry.metrics();
      const evicted = 20 - store.outbox.itemIds('event').length;
      expect(evicted).toBeGreaterThan(0);
      expect(text).toContain(`gridguard_outbox_evicted_total{kind="event"} ${evicted}`);
      expect(text).toContain('gridguard_outbox_items{kind="alert"} 1');
      expect(text).toContain('gridguard_outbox_quota_bytes 16384');
    } finally {
      cloudSync.stop();
    }
    expect(await metrics.registry.metrics()).not.toContain('gridguard_outbox_items');
  });
});

describe('CloudSync: the platform public key', () => {
  it('refuses to start with a missing key file, naming the setting and the file', () => {
    const { cloudSync } = setup({ ...SITE, platform: { ...SITE.platform, commandPublicKey: '/nonexistent/platform.pub.pem' } });
    expect(() => cloudSync.start()).toThrow(/gw-test-1: platform.commandPublicKey \(\/nonexistent\/platform.pub.pem\): cannot read: ENOENT/);
    cloudSync.stop();
  });
});

describe('outbox: evidence images share the alert-update class but never an envelope', () => {
  it('splits batches at a change of kind and sends one image per batch, in seq order', async () => {
    const store = Store.open(':memory:');
    await store.writes.write(() => {
      store.outbox.enqueue('alert-update', 'u1', { id: 'u1' }, 1);
      store.outbox.enqueue('alert-update', 'u2', { id: 'u2' }, 1);
      store.outbox.enqueueMedia('m1', JSON.stringify({ id: 'm1', data: 'AAAA' }), 1);
      store.outbox.enqueueMedia('m2', JSON.stringify({ id: 'm2', data: 'BBBB' }), 1);
      store.outbox.enqueue('alert-update', 'u3', { id: 'u3' }, 1);
    });
    const batches: { kind: string; ids: string[] }[] = [];
    let after = 0;
    for (let b = store.outbox.sendBatch(1, after, 100, 1e6); b; b = store.outbox.sendBatch(1, after, 100, 1e6)) {
      expect(b.cls).toBe(1);
      batches.push({ kind: b.kind, ids: b.bodies.map((body) => JSON.parse(body).id) });
      after = b.lastSeq;
    }
    expect(batches).toEqual([
      { kind: 'alert-update', ids: ['u1', 'u2'] },
      { kind: 'media', ids: ['m1'] },
      { kind: 'media', ids: ['m2'] },
      { kind: 'alert-update', ids: ['u3'] },
    ]);
    store.close();
  });
});
