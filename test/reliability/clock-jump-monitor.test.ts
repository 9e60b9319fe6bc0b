/**
 * The device monitor across wall-clock steps, with FakeClock: set() steps wall time only, as
 * NTP or `date -s` does; advance() is time really passing. Silence must be judged on the latter.
 */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfigText } from '../../config/load.ts';
import { EventBus, type DeviceStatusChange } from '../../gateway/core/bus.ts';
import { FakeClock } from '../../gateway/core/clock.ts';
import { silentLogger } from '../../gateway/core/logger.ts';
import { Metrics } from '../../gateway/core/metrics.ts';
import { DeviceMonitor } from '../../gateway/devices/device-monitor.ts';
import { SiteModel } from '../../gateway/site/site-model.ts';
import { Store } from '../../gateway/store/store.ts';

const HOUR = 3_600_000;
const site = {
  site: { gatewayId: 'g', communityName: 'c', communityGridCode: '1234', policeGridCode: '5678', policeStation: 's' },
  devices: ['d1', 'd2', 'd3'].map((id) => ({ id, kind: 'sensor', transport: 'mqtt', simulated: true, heartbeatSeconds: 60, offlineAfterMissed: 3 })),
};

function setup() {
  const { config } = loadConfigText(stringify(site), 'site.yaml');
  const bus = new EventBus();
  const clock = new FakeClock();
  const changes: DeviceStatusChange[] = [];
  bus.on('device.status', (s) => changes.push(s));
  const monitor = new DeviceMonitor({ site: new SiteModel(config), store: Store.open(':memory:'), bus, clock, metrics: new Metrics(), log: silentLogger(), checkEveryMs: 5_000 });
  return { clock, monitor, changes };
}

describe('device monitor across clock steps', () => {
  it('a forward step does not make devices that keep talking look silent', async () => {
    const { clock, monitor, changes } = setup();
    monitor.start();
    for (const id of ['d1', 'd2', 'd3']) await monitor.seen(id);
    clock.advance(60_000);
    clock.set(clock.now() + HOUR);
    monitor.check();
    clock.advance(5_000);
    expect(changes.filter((c) => !c.online)).toEqual([]);
    monitor.stop();
  });

  it('a backward step does not hide a device that went silent', async () => {
    const { clock, monitor, changes } = setup();
    monitor.start();
    await monitor.seen('d1');
    clock.set(clock.now() - HOUR);
    clock.advance(185_000); // past 3 × 60 s of real silence
    expect(monitor.get('d1')?.online).toBe(false);
    expect(changes.filter((c) => c.deviceId === 'd1' && !c.online).map((c) => c.reason)).toEqual(['no heartbeat for 185 s']);
    monitor.stop();
  });

  it('still counts real silence across steps in both directions', async () => {
    const { clock, monitor } = setup();
    monitor.start();
    await monitor.seen('d1');
    clock.advance(100_000);
    clock.set(clock.now() + HOUR);
    clock.advance(50_000);
    clock.set(clock.now() - 2 * HOUR);
    expect(monitor.get('d1')?.online).toBe(true); // 150 s silent: allowed
    clock.advance(35_000);
    expect(monitor.get('d1')?.online).toBe(false); // 185 s
    monitor.stop();
  });
});
