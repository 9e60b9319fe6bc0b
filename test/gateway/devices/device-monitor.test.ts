import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfigText } from '../../../config/load.ts';
import { EventBus, type DeviceStatusChange } from '../../../gateway/core/bus.ts';
import { FakeClock } from '../../../gateway/core/clock.ts';
import { silentLogger } from '../../../gateway/core/logger.ts';
import { Metrics } from '../../../gateway/core/metrics.ts';
import { DeviceMonitor } from '../../../gateway/devices/device-monitor.ts';
import { SiteModel } from '../../../gateway/site/site-model.ts';
import { Store } from '../../../gateway/store/store.ts';

const site = {
  site: { gatewayId: 'g', communityName: 'c', communityGridCode: '1234', policeGridCode: '5678', policeStation: 's' },
  devices: ['d1', 'd2', 'd3'].map((id) => ({ id, kind: 'sensor', transport: 'mqtt', simulated: true, heartbeatSeconds: 60, offlineAfterMissed: 3 })),
};

function setup(store = Store.open(':memory:'), clock = new FakeClock()) {
  const { config } = loadConfigText(stringify(site), 'site.yaml');
  const bus = new EventBus();
  const changes: DeviceStatusChange[] = [];
  bus.on('device.status', (s) => changes.push(s));
  const monitor = new DeviceMonitor({ site: new SiteModel(config), store, bus, clock, metrics: new Metrics(), log: silentLogger(), checkEveryMs: 5_000 });
  return { store, clock, monitor, changes };
}

describe('DeviceMonitor', () => {
  it('marks a device offline after it misses its heartbeats, and online when it returns', async () => {
    const { clock, monitor, changes } = setup();
    monitor.start();
    await monitor.seen('d1');
    clock.advance(180_000); // exactly 3 × 60 s: still allowed
    expect(monitor.get('d1')?.online).toBe(true);
    clock.advance(5_000);
    expect(monitor.get('d1')?.online).toBe(false);
    expect(changes.filter((c) => c.deviceId === 'd1').map((c) => c.online)).toEqual([true, false]);
    await monitor.seen('d1');
    expect(monitor.get('d1')?.online).toBe(true);
    monitor.stop();
  });

  it('after a gateway restart, devices get a full grace period: no offline burst', async () => {
    const store = Store.open(':memory:');
    const first = setup(store);
    first.monitor.start();
    for (const id of ['d1', 'd2', 'd3']) await first.monitor.seen(id);
    first.monitor.stop();

    // The gateway was down for a day; its devices' last-seen times are a day old.
    const clock = new FakeClock(first.clock.now() + 86_400_000);
    const second = setup(store, clock);
    second.monitor.start();
    clock.advance(60_000);
    await second.monitor.seen('d1');
    await second.monitor.seen('d2');
    clock.advance(120_000); // grace (180 s from start) not over
    expect(second.changes.filter((c) => !c.online)).toEqual([]);
    clock.advance(10_000);
    // d3 never came back: one offline change, for d3 only.
    expect(second.changes.filter((c) => !c.online).map((c) => c.deviceId)).toEqual(['d3']);
    second.monitor.stop();
  });

  it('an explicit offline (last will) applies at once; suspended monitors report nothing', async () => {
    const { monitor, changes } = setup();
    monitor.start();
    await monitor.seen('d2');
    monitor.offline('d2', 'device announced offline (last will)');
    expect(changes.at(-1)).toMatchObject({ deviceId: 'd2', online: false, reason: 'device announced offline (last will)' });
    await monitor.seen('d2');
    monitor.suspend();
    monitor.offline('d2', 'gateway stopping');
    expect(changes.at(-1)?.online).toBe(true);
  });

  it('keeps device facts from heartbeats and persists last-seen', async () => {
    const { store, monitor } = setup();
    monitor.start();
    await monitor.seen('d1', { battery: 87, firmware: '1.2' });
    expect(monitor.get('d1')?.info).toEqual({ battery: 87, firmware: '1.2' });
    expect(store.devices.all().find((r) => r.id === 'd1')).toMatchObject({ online: true, info: { battery: 87 } });
    monitor.stop();
  });
});
