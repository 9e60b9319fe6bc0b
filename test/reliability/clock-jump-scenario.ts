/**
 * Clock jumps: the gateway's wall clock is stepped (JumpClock) while devices keep publishing
 * (ledger-checked) and a door is forced before the first step and after each one. Collected:
 * devices that kept publishing but were judged offline after a step (must be none), who the
 * device-offline alerts name, whether a device that went silent was still noticed after the
 * steps, the order the door alerts reached the platform, and the ledger. The tests assert.
 */
import { expect } from 'vitest';
import type { DeviceStatusChange } from '../../gateway/core/bus.ts';
import type { Alert } from '../../gateway/core/model.ts';
import { connectDevice, publishEvent, startGateway } from '../helpers/gateway.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/net.ts';
import { PlatformPeer, ROOT } from '../cloud-sync/platform.ts';
import { DeviceLoad } from './device-load.ts';
import { JumpClock } from './jump-clock.ts';
import { Ledger, platformRefs, storedRefs, summarize, type LedgerComparison } from './ledger.ts';
import { loadSite } from './load-site.ts';

/** Heartbeat allowance of every device: 5 s × 2 missed. */
const HEARTBEAT_SECONDS = 5;
const MISSED = 2;

export interface ClockJumpOptions {
  devices: number;
  /** Wall-clock steps in ms, applied in turn. */
  steps: number[];
  /** Load kept up after each step before the next. */
  dwellMs: number;
}

export interface ClockJumpFigures {
  /** Status changes to offline of devices that never stopped publishing. */
  flapped: DeviceStatusChange[];
  /** Devices named by device-offline alerts (per-device and gateway-level). */
  offlineAlertsName: string[];
  /** Devices that may rightly be named: never connected, hung up, or the silent one. */
  gone: Set<string>;
  silentNoticedMs: number;
  raised: string[];
  doorAlertsAtPlatform: string[];
  store: LedgerComparison;
  platform: LedgerComparison;
}

export async function runClockJumps(options: ClockJumpOptions): Promise<ClockJumpFigures> {
  const broker = new Mosquitto();
  await broker.start();
  const peer = await new PlatformPeer(broker.url).connect();
  const clock = new JumpClock();
  const ledger = new Ledger();
  const statuses: DeviceStatusChange[] = [];
  const { site, devices: all } = await loadSite(options.devices + options.steps.length + 1, {
    platform: { url: broker.url, reconnectMinMs: 100, reconnectMaxMs: 500, heartbeatSeconds: 0 },
    // Alerts at once, so a stale offline judgement shows up as an alert without waiting for a grace period.
    rules: [
      { id: 'door-forced', type: 'door-forced' },
      { id: 'device-offline', type: 'device-offline', params: { graceSeconds: 0 } },
    ],
  });
  site.devices = (site.devices as Record<string, unknown>[]).map((d) => ({ ...d, heartbeatSeconds: HEARTBEAT_SECONDS, offlineAfterMissed: MISSED }));
  const devices = all.slice(0, options.devices);
  const doors = all.slice(options.devices);
  const gw = await startGateway(site, { clock });
  const load = new DeviceLoad({ mqttUrl: gw.mqttUrl, devices, ledger, intervalMs: 100 });
  try {
    const { monitor, store, bus } = gw.gateway.services;
    bus.on('device.status', (s) => statuses.push(s));
    load.start();
    await waitFor(() => devices.every((d) => monitor.get(d.id)?.online), 'every load device online', 30_000);
    // A device that shows life and then stays connected but silent, as a hung device does.
    const silent = await connectDevice(gw.mqttUrl, 'ac-2');
    await publishEvent(silent, 'ac-2', { type: 'access.granted', cardNo: '1002' });
    const raised: string[] = [];
    const forceDoor = async (door: (typeof doors)[number]) => {
      const client = await connectDevice(gw.mqttUrl, door.id, door.secret);
      await publishEvent(client, door.id, { type: 'door.forced' });
      await client.endAsync();
      const alert = await waitFor(() => store.alerts.list().find((a) => a.deviceId === door.id), `the door-forced alert of ${door.id}`, 30_000);
      raised.push(alert.id);
    };
    await forceDoor(doors[0]!);
    const offlineBefore = statuses.length;

    for (const [i, step] of options.steps.entries()) {
      clock.step(step);
      // The checks the monitor's timer would run, at once: a stale judgement cannot hide between them.
      monitor.check();
      await forceDoor(doors[i + 1]!);
      const until = Date.now() + options.dwellMs;
      while (Date.now() < until) {
        monitor.check();
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const live = new Set(devices.map((d) => d.id));
    const flapped = statuses.slice(offlineBefore).filter((s) => !s.online && live.has(s.deviceId));

    // The silent device is noticed within its allowance after the steps, not a step later.
    const t0 = Date.now();
    await waitFor(() => monitor.get('ac-2')?.online === false, 'the silent device to be judged offline after the steps', 60_000);
    const silentNoticedMs = Date.now() - t0;
    const offlineAlerts = store.alerts.list({ limit: 1000 }).filter((a: Alert) => a.ruleId === 'device-offline');
    const offlineAlertsName = offlineAlerts.flatMap((a) => (a.deviceId ? [a.deviceId] : ((a.details as { devices?: string[] }).devices ?? [])));
    const gone = new Set(['ac-1', 'ac-2', 'cam-1', 'dp-1', 'smoke-1', ...doors.map((d) => d.id)]);

    await load.stop();
    await silent.endAsync();
    await waitFor(() => store.outbox.count() === 0, 'the outbox to drain', 60_000);
    const storeCmp = ledger.compare('store', storedRefs(`${gw.dataDir}/gridguard.db`));
    const platform = ledger.compare('platform', platformRefs(peer.messages, `${ROOT}/events`));
    const doorAlertsAtPlatform = peer.itemIds('alerts').filter((id) => raised.includes(id));
    console.log(
      `clock jumps (${options.steps.map((s) => `${s > 0 ? '+' : ''}${s / 1000} s`).join(', ')}): ${flapped.length} stale offline judgements; ` +
        `silent device noticed ${silentNoticedMs} ms after the last step's dwell; door alerts ${doorAlertsAtPlatform.length}/${raised.length} at the platform; ` +
        `${summarize(storeCmp)}; ${summarize(platform)}`,
    );
    return { flapped, offlineAlertsName, gone, silentNoticedMs, raised, doorAlertsAtPlatform, store: storeCmp, platform };
  } finally {
    await load.stop();
    await gw.stop();
    await peer.close();
    await broker.stop();
  }
}

/** What both versions assert. */
export function checkClockJumps(f: ClockJumpFigures, steps: number): void {
  expect(f.flapped, 'devices judged offline by a clock step').toEqual([]);
  expect(f.offlineAlertsName.filter((id) => !f.gone.has(id)), 'offline alerts naming devices that kept publishing').toEqual([]);
  expect(f.raised).toHaveLength(steps + 1);
  expect(f.doorAlertsAtPlatform).toEqual(f.raised);
  expect(f.store.lost).toEqual([]);
  expect(f.store.duplicated).toEqual([]);
  expect(f.platform.lost).toEqual([]);
}
