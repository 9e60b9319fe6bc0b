/**
 * Disk pressure on the outbox: the platform is down, many devices keep publishing and the
 * outbox reaches its quota (`platform.outbox.quotaBytes`). Expected, checked with the ledger:
 * every event a device got a PUBACK for is in the store (the quota bounds the outbox, never the
 * event log); every alert raised during the pressure is kept and reaches the platform once it
 * is back; what was evicted is reported in `gateway.status()` (platform.queue.*.evicted) and
 * is exactly what the platform does not get; nothing kept is lost on the way.
 */
import { mkdtempSync } from 'node:fs';
import { expect } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectDevice, publishEvent, startGateway } from '../helpers/gateway.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { PlatformPeer, ROOT } from '../cloud-sync/platform.ts';
import { DeviceLoad } from './device-load.ts';
import { Ledger, platformRefs, storedRefs, summarize, type LedgerComparison } from './ledger.ts';
import { loadSite } from './load-site.ts';

export interface DiskPressureOptions {
  devices: number;
  /** Doors forced during the load, one alert each. */
  alerts: number;
  loadMs: number;
  quotaBytes: number;
}

export interface DiskPressureFigures {
  store: LedgerComparison;
  platform: LedgerComparison;
  eventsStored: number;
  eventsKept: number;
  evicted: Record<string, number>;
  outboxBytes: number;
  quotaBytes: number;
  overQuota: boolean;
  alertsRaised: string[];
  alertsKept: string[];
  alertsAtPlatform: string[];
  /** Refs of the events the outbox kept, and the refs the platform got. */
  keptRefs: string[];
  drainMs: number;
  /** From publishing door.forced to its alert in the store, under the load (no bound asserted). */
  alertLatencyMs: number[];
}

export async function runDiskPressure(options: DiskPressureOptions): Promise<DiskPressureFigures> {
  // The platform peer's session outlives the broker being down, so it gets whatever the gateway
  // sends once the platform is back, whoever reconnects first.
  const broker = new Mosquitto({ port: await freePort(), listenerLines: ['persistence true', `persistence_location ${mkdtempSync(join(tmpdir(), 'gg-mosq-data-'))}/`] });
  const peerOptions = { clientId: `platform-disk-${process.pid}`, clean: false, properties: { sessionExpiryInterval: 3600 } };
  await broker.start();
  await (await new PlatformPeer(broker.url, peerOptions).connect()).close();
  await broker.stop();

  const { site, devices: all } = await loadSite(options.devices + options.alerts, {
    platform: { url: broker.url, reconnectMinMs: 100, reconnectMaxMs: 300, heartbeatSeconds: 0, outbox: { quotaBytes: options.quotaBytes } },
  });
  const devices = all.slice(0, options.devices);
  const doors = all.slice(options.devices);
  const gw = await startGateway(site);
  let peer: PlatformPeer | null = null;
  try {
    const { store } = gw.gateway.services;
    const ledger = new Ledger();
    const load = new DeviceLoad({ mqttUrl: gw.mqttUrl, devices, ledger, intervalMs: 20 });
    load.start();
    const alertsRaised: string[] = [];
    const alertLatencyMs: number[] = [];
    const gap = options.loadMs / (options.alerts + 1);
    for (const door of doors) {
      await new Promise((r) => setTimeout(r, gap));
      const client = await connectDevice(gw.mqttUrl, door.id, door.secret);
      const sentAt = Date.now();
      await publishEvent(client, door.id, { type: 'door.forced' });
      await waitFor(() => store.alerts.list().some((a) => a.deviceId === door.id), `the alert of ${door.id}`, 60_000);
      alertLatencyMs.push(Date.now() - sentAt);
      await client.endAsync();
      alertsRaised.push(store.alerts.list().find((a) => a.deviceId === door.id)!.id);
    }
    await new Promise((r) => setTimeout(r, gap));
    await load.stop();

    const dbFile = join(gw.dataDir, 'gridguard.db');
    const storeCmp = ledger.compare('store', storedRefs(dbFile));
    const eventsStored = store.events.count();
    const keptIds = new Set(store.outbox.itemIds('event'));
    const keptRefs = (store.db.prepare("SELECT id, json_extract(body, '$.payload.ref') AS ref FROM events").all() as { id: string; ref: string | null }[])
      .filter((r) => keptIds.has(r.id) && r.ref)
      .map((r) => r.ref!);
    const alertsKept = store.outbox.itemIds('alert');
    const status = (await gw.gateway.status()).platform as { queue: Record<string, { evicted: number }>; outbox: { bytes: number; quotaBytes: number; overQuota: boolean } };
    const evicted = Object.fromEntries(Object.entries(status.queue).map(([k, q]) => [k, q.evicted]));

    const t0 = Date.now();
    await broker.start();
    peer = await new PlatformPeer(broker.url, peerOptions).connect();
    await waitFor(() => store.outbox.count() === 0, 'the outbox to drain', 120_000, 100);
    const p = peer;
    await waitFor(() => new Set(platformRefs(p.messages, `${ROOT}/events`)).size >= keptRefs.length, 'the kept events at the platform', 30_000).catch(() => {});
    const drainMs = Date.now() - t0;
    const platform = ledger.compare('platform', platformRefs(peer.messages, `${ROOT}/events`));
    console.log(`disk pressure: ${summarize(storeCmp)}; ${summarize(platform)}; evicted ${JSON.stringify(evicted)}; outbox ${status.outbox.bytes}/${status.outbox.quotaBytes} B; alert latency ${alertLatencyMs.join(', ')} ms`);
    return {
      store: storeCmp,
      platform,
      eventsStored,
      eventsKept: keptIds.size,
      evicted,
      outboxBytes: status.outbox.bytes,
      quotaBytes: status.outbox.quotaBytes,
      overQuota: status.outbox.overQuota,
      alertsRaised,
      alertsKept,
      alertsAtPlatform: peer.itemIds('alerts'),
      keptRefs,
      drainMs,
      alertLatencyMs,
    };
  } finally {
    await gw.stop();
    await peer?.close();
    await broker.stop();
  }
}

/** The properties both versions assert. */
export function checkDiskPressure(f: DiskPressureFigures): void {
  expect(f.store.acked).toBeGreaterThan(0);
  expect(f.store.lost, 'acknowledged events missing from the store').toEqual([]);
  expect(f.store.duplicated).toEqual([]);
  // The quota was reached: events were evicted, and the outbox stayed within it.
  expect(f.evicted.event).toBeGreaterThan(0);
  expect(f.overQuota).toBe(false);
  expect(f.outboxBytes).toBeLessThanOrEqual(f.quotaBytes);
  // Every alert kept and delivered; evictions reported are exactly the events not kept.
  expect(f.evicted.alert).toBe(0);
  expect(new Set(f.alertsKept)).toEqual(new Set(f.alertsRaised));
  expect(new Set(f.alertsAtPlatform)).toEqual(new Set(f.alertsRaised));
  expect(f.evicted.event).toBe(f.eventsStored - f.eventsKept);
  // What the platform got is what the outbox kept, nothing lost on the way, nothing else.
  expect(new Set(f.keptRefs).size).toBe(f.platform.found);
  expect(f.platform.lost.length).toBe(f.store.acked - f.keptRefs.length);
}
