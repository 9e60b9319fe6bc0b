import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testSite, type TestGateway } from '../helpers/gateway.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/net.ts';
import { requireTool } from '../helpers/tools.ts';
import { AlertUpdateItemSchema, EnvelopeSchema, StatusMessageSchema } from '../../cloud-sync/messages.ts';
import { PlatformPeer, ROOT } from './platform.ts';
import { mixedTraffic } from './traffic.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');

describe.skipIf(!haveMosquitto)('platform outage: stop mosquitto, keep working, restart it on the same port', () => {
  // The platform broker keeps its sessions across the restart, as a production broker does, so
  // the platform peer misses nothing the gateway sends before the peer is back.
  const brokerData = mkdtempSync(join(tmpdir(), 'gg-mosq-data-'));
  const broker = new Mosquitto({ listenerLines: ['persistence true', `persistence_location ${brokerData}/`] });
  const peerOptions = { clientId: 'platform-outage-peer', clean: false, properties: { sessionExpiryInterval: 3600 } };
  let gw: TestGateway;
  const peers: PlatformPeer[] = [];

  beforeAll(async () => {
    await broker.start();
    peers.push(await new PlatformPeer(broker.url, peerOptions).connect());
    gw = await startGateway(await testSite({ platform: { url: broker.url, reconnectMinMs: 100, reconnectMaxMs: 500, heartbeatSeconds: 0 } }));
    await waitFor(() => gw.gateway.services.uplink!.state.connected, 'uplink connected');
  });

  afterAll(async () => {
    await gw?.stop();
    for (const p of peers) await p.close();
    await broker.stop();
  });

  it('delivers every event, alert and alert update made during the outage: alerts first, each class in order, no duplicates', async () => {
    const { store, alerts } = gw.gateway.services;
    await broker.stop();
    await waitFor(() => !gw.gateway.services.uplink!.state.connected, 'uplink to notice the outage');
    const outageStartMs = Date.now();

    await mixedTraffic(gw.mqttUrl, 120);
    // A guard acknowledges an alert during the outage: an alert update for the platform.
    const forced = store.alerts.list().find((a) => a.ruleId === 'door-forced')!;
    await alerts.transition(forced.id, 'acknowledged', { by: 'guard', source: 'local' });

    const expected = {
      alerts: store.outbox.itemIds('alert'),
      'alert-updates': store.outbox.itemIds('alert-update'),
      events: store.outbox.itemIds('event'),
    };
    // Nothing was lost on the way in: every stored event and alert of the outage is queued.
    const storedEvents = (store.db.prepare('SELECT id FROM events WHERE received_ms >= ? ORDER BY received_ms, id').all(outageStartMs) as { id: string }[]).map((r) => r.id);
    expect(new Set(expected.events)).toEqual(new Set(storedEvents));
    expect(storedEvents.length).toBe(2 * 120 + 5);
    expect(new Set(expected.alerts)).toEqual(new Set(store.alerts.list().map((a) => a.id)));
    expect(expected.alerts.length).toBe(4); // door forced (merged once), watchlist, smoke, SOS
    expect(expected['alert-updates'].length).toBeGreaterThanOrEqual(2); // the merge and the acknowledgement
    expect(gw.gateway.services.uplink!.state.queue.event.count).toBe(expected.events.length);

    await broker.start();
    const peer = await new PlatformPeer(broker.url, peerOptions).connect();
    peers.push(peer);
    await waitFor(() => store.outbox.count() === 0, 'outbox to drain', 30_000);
    await waitFor(() => peer.itemIds('events').length >= expected.events.length, 'all events at the platform', 30_000);

    expect(peer.itemIds('alerts')).toEqual(expected.alerts);
    expect(peer.itemIds('alert-updates')).toEqual(expected['alert-updates']);
    expect(peer.itemIds('events')).toEqual(expected.events);
    const indexOf = (topic: string) => peer.messages.filter((m) => m.topic === `${ROOT}/${topic}`).map((m) => m.index);
    expect(Math.max(...indexOf('alerts'))).toBeLessThan(Math.min(...indexOf('events')));
    expect(Math.max(...indexOf('alert-updates'))).toBeLessThan(Math.min(...indexOf('events')));
    expect(Math.max(...indexOf('alerts'))).toBeLessThan(Math.min(...indexOf('alert-updates')));

    // Every message matches the documented schemas (docs/schemas/uplink/).
    for (const m of peer.messages) {
      if (m.topic === `${ROOT}/status`) StatusMessageSchema.parse(m.body);
      else EnvelopeSchema.parse(m.body);
      if (m.topic === `${ROOT}/alert-updates`) for (const item of m.body.items) AlertUpdateItemSchema.parse(item);
    }
    const status = await waitFor(() => peer.messages.filter((m) => m.topic === `${ROOT}/status` && m.body.state === 'online').at(-1), 'online status');
    expect(status.body).toMatchObject({ v: 1, gatewayId: 'gw-test-1', devices: { total: 5 } });
    const api = gw.gateway.services.uplink!.state;
    expect(api.reconnects).toBeGreaterThan(0);
    expect(api.sentItems).toBeGreaterThanOrEqual(expected.events.length + expected.alerts.length);
    expect(api.queue.event).toMatchObject({ count: 0, oldestAgeSeconds: null, evicted: 0 });
  });
});
