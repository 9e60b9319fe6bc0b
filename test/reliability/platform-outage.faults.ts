/**
 * Platform outage of several minutes under steady device load (npm run test:faults): the same
 * scenario as disk pressure, with a quota large enough that nothing is evicted. Every event a
 * device got a PUBACK for must reach the platform after the outage, and every alert. That alerts
 * overtake the backlog in the drain is checked by test/cloud-sync/priority.e2e.test.ts.
 * GRIDGUARD_OUTAGE_LOAD_MS sets the outage (default 3 minutes).
 */
import { describe, expect, it } from 'vitest';
import { requireTool } from '../helpers/tools.ts';
import { runDiskPressure } from './disk-pressure-scenario.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');
const LOAD_MS = Number(process.env.GRIDGUARD_OUTAGE_LOAD_MS ?? 180_000);

describe.skipIf(!haveMosquitto)('platform outage of several minutes under steady load', () => {
  it('delivers every acknowledged event and every alert once the platform is back', async () => {
    const f = await runDiskPressure({ devices: 8, alerts: 10, loadMs: LOAD_MS, quotaBytes: 512 * 1024 * 1024 });
    expect(f.store.acked).toBeGreaterThan(0);
    expect(f.store.lost, 'acknowledged events missing from the store').toEqual([]);
    expect(f.evicted).toEqual({ alert: 0, 'alert-update': 0, event: 0, telemetry: 0 });
    expect(f.platform.lost, 'acknowledged events that never reached the platform').toEqual([]);
    // Every forced-door alert arrives; over minutes other rules may raise more (idle devices go
    // offline), and those arrive too, but they are not this ledger's to count.
    for (const id of f.alertsRaised) expect(f.alertsAtPlatform).toContain(id);
    console.log(
      `platform outage summary: ${LOAD_MS / 1000} s outage, ${f.store.acked} acknowledged events, lost ${f.store.lost.length} in the store and ` +
        `${f.platform.lost.length} at the platform, ${f.platform.duplicated.length} duplicated; ${f.alertsRaised.length} forced-door alerts, all at the platform (${new Set(f.alertsAtPlatform).size} alerts there in all); drain ${f.drainMs} ms`,
    );
  }, 900_000);
});
