/**
 * When deleting acknowledged rows fails (disk full, I/O error), the uplink retries the delete: the
 * outbox still empties without a reconnect, and nothing is sent twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, publishEvent, startGateway, testSite, type TestGateway } from '../helpers/gateway.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/net.ts';
import { requireTool } from '../helpers/tools.ts';
import { PlatformPeer } from './platform.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');

describe.skipIf(!haveMosquitto)('uplink: a failed delete of acknowledged rows (real mosquitto)', () => {
  const broker = new Mosquitto();
  let platform: PlatformPeer;
  let gw: TestGateway;

  beforeAll(async () => {
    await broker.start();
    platform = await new PlatformPeer(broker.url).connect();
    gw = await startGateway(await testSite({ platform: { url: broker.url, reconnectMinMs: 100, reconnectMaxMs: 500, heartbeatSeconds: 0 } }));
  });

  afterAll(async () => {
    await gw?.stop();
    await platform?.close();
    await broker.stop();
  });

  it('is retried: the outbox empties with no reconnect and every event arrives once', async () => {
    const { store, uplink } = gw.gateway.services;
    await waitFor(() => uplink!.state.connected, 'uplink connected');
    const reconnects = uplink!.state.reconnects;
    // The next three deletes fail, as they would on a full disk.
    const removeRange = store.outbox.removeRange.bind(store.outbox);
    let failures = 3;
    store.outbox.removeRange = (...args) => {
      if (failures > 0) {
        failures--;
        throw new Error('SQLITE_FULL: database or disk is full');
      }
      return removeRange(...args);
    };

    const device = await connectDevice(gw.mqttUrl, 'ac-1');
    for (let i = 0; i < 20; i++) await publishEvent(device, 'ac-1', { type: 'door.opened', ref: `r${i}` });
    await device.endAsync();

    await waitFor(() => failures === 0 && store.outbox.count() === 0, 'the outbox to empty after the failed deletes', 20_000);
    expect(uplink!.state.reconnects).toBe(reconnects);
    const ids = platform.itemIds('events');
    const stored = store.events.query({ deviceId: 'ac-1', limit: 100 }).map((e) => e.id);
    expect(stored).toHaveLength(20);
    expect([...ids].sort()).toEqual([...stored].sort());
  });
});
