import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Uplink } from '../../cloud-sync/uplink.ts';
import { loadConfigText } from '../../config/load.ts';
import { EventBus } from '../../gateway/core/bus.ts';
import { FakeClock } from '../../gateway/core/clock.ts';
import { Metrics } from '../../gateway/core/metrics.ts';
import { Store } from '../../gateway/store/store.ts';
import { pino } from 'pino';
import { connectDevice, publishEvent, startGateway, testSite, type TestGateway } from '../helpers/gateway.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/net.ts';
import { requireTool } from '../helpers/tools.ts';
import { prefill, sampleEvent } from './backlog.ts';
import { PlatformPeer, ROOT } from './platform.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');

describe.skipIf(!haveMosquitto)('alerts overtake a backlog (real mosquitto)', () => {
  const broker = new Mosquitto();
  let platform: PlatformPeer;

  beforeAll(async () => {
    await broker.start();
    platform = await new PlatformPeer(broker.url).connect();
  });

  afterAll(async () => {
    await platform?.close();
    await broker.stop();
  });

  it('a fresh alert from a device reaches the platform while a 16,000-event backlog is still draining', async () => {
    const site = await testSite({
      platform: { url: broker.url, reconnectMinMs: 100, reconnectMaxMs: 500, heartbeatSeconds: 0, batchMaxItems: 100, drainMaxItemsPerSecond: 4000 },
    });
    const backlog = prefill(join((site.storage as { dataDir: string }).dataDir, 'gridguard.db'), 'event', 16_000);
    platform.messages.length = 0;
    const gw: TestGateway = await startGateway(site);
    try {
      await waitFor(() => platform.itemIds('events').length > 0, 'the backlog to start draining');
      const device = await connectDevice(gw.mqttUrl, 'ac-1');
      await publishEvent(device, 'ac-1', { type: 'door.forced' });
      // The gateway acknowledged the device: the event is committed and the rules have it.
      const acceptedAt = platform.messages.length;
      const alertMessage = await waitFor(() => platform.messages.find((m) => m.topic === `${ROOT}/alerts`), 'the alert on the platform', 30_000);
      const eventsBetween = platform.messages.filter((m) => m.index >= acceptedAt && m.index < alertMessage.index && m.topic === `${ROOT}/events`).flatMap((m) => m.body.items).length;
      expect(alertMessage.body.items[0].ruleId).toBe('door-forced');
      // The alert did not queue behind the backlog: few events slipped in between, and the
      // backlog was still draining when it arrived.
      expect(eventsBetween).toBeLessThan(backlog.length / 4);
      expect(gw.gateway.services.store.outbox.count()).toBeGreaterThan(0);
      await waitFor(() => gw.gateway.services.store.outbox.count() === 0, 'the backlog to drain', 60_000);
      // Every item, in the order it was queued (order is kept within a class).
      const queued = new Set(backlog);
      expect([...new Set(platform.itemIds('events'))].filter((id) => queued.has(id))).toEqual(backlog);
      await device.endAsync();
    } finally {
      await gw.stop();
    }
  }, 120_000);

  it('holds the backlog to its rate with a fake clock, while alerts go at once', async () => {
    const site = await testSite({ platform: { url: broker.url, heartbeatSeconds: 0, batchMaxItems: 50, drainMaxItemsPerSecond: 100, clientId: 'gw-rate-test' } });
    const { config } = loadConfigText(stringify(site), 'rate.yaml');
    const file = join(config.storage.dataDir, 'gridguard.db');
    const backlog = prefill(file, 'event', 1000);
    const store = Store.open(file);
    const clock = new FakeClock(Date.now());
    const bus = new EventBus();
    const uplink = new Uplink({
      config: config.platform!,
      gatewayId: 'gw-test-1',
      communityGridCode: 'CG350102001',
      version: 'test',
      store,
      bus,
      clock,
      metrics: new Metrics(),
      log: pino({ level: 'silent' }),
      resolvePath: (p) => p,
    });
    platform.messages.length = 0;
    uplink.start();
    try {
      const received = () => platform.itemIds('events').length;
      // A full bucket holds one second of items: 100 go at once, then nothing until time moves.
      await waitFor(() => received() === 100, '100 items');
      await new Promise((r) => setTimeout(r, 300));
      expect(received()).toBe(100);

      const alert = sampleEvent(0, clock.now());
      await store.writes.write(() => store.outbox.enqueue('alert', alert.id, alert, clock.now()));
      bus.emit('outbox.enqueued', { count: 1 });
      await waitFor(() => platform.itemIds('alerts').includes(alert.id), 'the alert despite an empty bucket');

      clock.advance(500); // 50 tokens: one batch of 50
      await waitFor(() => received() === 150, '150 items');
      clock.advance(1000);
      await waitFor(() => received() === 250, '250 items');
      await new Promise((r) => setTimeout(r, 200));
      expect(received()).toBe(250);
      expect(platform.itemIds('events')).toEqual(backlog.slice(0, 250));
    } finally {
      await uplink.stop();
      store.close();
    }
  });
});
