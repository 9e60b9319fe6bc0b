import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../gateway/core/ids.ts';
import { startGateway, testSite, type TestGateway } from '../helpers/gateway.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { requireTool } from '../helpers/tools.ts';
import { PlatformPeer } from './platform.ts';
import { mixedTraffic } from './traffic.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');
const QUOTA = 64 * 1024;

describe.skipIf(!haveMosquitto)('outbox quota while the platform is unreachable', () => {
  let broker: Mosquitto;
  let gw: TestGateway;
  let peer: PlatformPeer;

  const peerOptions = { clientId: 'platform-quota-peer', clean: false, properties: { sessionExpiryInterval: 3600 } };

  beforeAll(async () => {
    // The platform peer's session (and its subscription) outlives the broker restart, so it
    // gets everything the gateway sends once the platform is back, whoever reconnects first.
    broker = new Mosquitto({ port: await freePort(), listenerLines: ['persistence true', `persistence_location ${mkdtempSync(join(tmpdir(), 'gg-mosq-data-'))}/`] });
    await broker.start();
    await (await new PlatformPeer(broker.url, peerOptions).connect()).close();
    await broker.stop();
    gw = await startGateway(await testSite({ platform: { url: broker.url, reconnectMinMs: 100, reconnectMaxMs: 300, heartbeatSeconds: 0, outbox: { quotaBytes: QUOTA } } }));
  });

  afterAll(async () => {
    await gw?.stop();
    await peer?.close();
    await broker.stop();
  });

  it('evicts telemetry then the oldest events, keeps every alert, counts each eviction and sends exactly what was kept', async () => {
    const { store, bus } = gw.gateway.services;
    const telemetry: string[] = [];
    for (let i = 0; i < 100; i++) {
      const id = newId();
      telemetry.push(id);
      await store.writes.write(() => store.outbox.enqueue('telemetry', id, { id, type: 'heartbeat', at: new Date().toISOString(), uptimeSeconds: i, queue: {} }, Date.now()));
    }
    bus.emit('outbox.enqueued', { count: 100 });
    await mixedTraffic(gw.mqttUrl, 140); // ≈ 280 events of ≈ 700 bytes: far over 64 KiB

    const events = (store.db.prepare('SELECT id FROM events ORDER BY received_ms, rowid').all() as { id: string }[]).map((r) => r.id);
    const alertIds = store.alerts.list().map((a) => a.id);
    const kept = { alert: store.outbox.itemIds('alert'), update: store.outbox.itemIds('alert-update'), event: store.outbox.itemIds('event'), telemetry: store.outbox.itemIds('telemetry') };
    expect(new Set(kept.alert)).toEqual(new Set(alertIds));
    expect(kept.alert.length).toBe(4);
    expect(kept.telemetry).toEqual([]);
    // The kept events are the newest ones, in order; the evicted ones the oldest.
    expect(kept.event.length).toBeGreaterThan(0);
    expect(kept.event.length).toBeLessThan(events.length);
    expect(kept.event).toEqual(events.slice(events.length - kept.event.length));
    expect(store.outbox.totalBytes()).toBeLessThanOrEqual(QUOTA);

    const state = (await gw.gateway.status()).platform as any;
    expect(state.queue.telemetry.evicted).toBe(100);
    expect(state.queue.event.evicted).toBe(events.length - kept.event.length);
    expect(state.queue.alert.evicted).toBe(0);
    expect(state.outbox).toMatchObject({ quotaBytes: QUOTA, overQuota: false });
    const metrics = await gw.gateway.metrics.registry.metrics();
    expect(metrics).toContain(`gridguard_outbox_evicted_total{kind="event"} ${events.length - kept.event.length}`);
    expect(metrics).toContain('gridguard_outbox_evicted_total{kind="telemetry"} 100');
    expect(metrics).toContain('gridguard_outbox_evicted_total{kind="alert"} 0');
    expect(metrics).toContain(`gridguard_outbox_items{kind="alert"} 4`);

    await broker.start();
    peer = await new PlatformPeer(broker.url, peerOptions).connect();
    await waitFor(() => store.outbox.count() === 0, 'outbox to drain', 30_000);
    await waitFor(() => peer.itemIds('events').length >= kept.event.length, 'the kept events at the platform', 30_000);
    expect(peer.itemIds('alerts')).toEqual(kept.alert);
    expect(peer.itemIds('alert-updates')).toEqual(kept.update);
    expect(peer.itemIds('events')).toEqual(kept.event);
  });
});
