/**
 * Disk pressure, long version (npm run test:faults): 512 KiB outbox quota, 16 devices for 30 s
 * with the platform down, ten alerts raised meanwhile; then the drain. GRIDGUARD_DISK_LOAD_MS
 * changes the duration.
 */
import { describe, it } from 'vitest';
import { requireTool } from '../helpers/tools.ts';
import { checkDiskPressure, runDiskPressure } from './disk-pressure-scenario.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');
const LOAD_MS = Number(process.env.GRIDGUARD_DISK_LOAD_MS ?? 30_000);

describe.skipIf(!haveMosquitto)('disk pressure: outbox quota reached under long load, platform down', () => {
  it('keeps every acknowledged event in the store and every alert, reports the evictions, sends exactly what was kept', async () => {
    const f = await runDiskPressure({ devices: 16, alerts: 10, loadMs: LOAD_MS, quotaBytes: 512 * 1024 });
    checkDiskPressure(f);
    console.log(
      `disk pressure summary: ${f.store.acked} acked events, all ${f.eventsStored} stored (lost ${f.store.lost.length}); outbox kept ${f.eventsKept} events, ` +
        `evicted ${JSON.stringify(f.evicted)}; outbox ${f.outboxBytes}/${f.quotaBytes} B; alerts raised ${f.alertsRaised.length}, kept ${f.alertsKept.length}, at platform ${new Set(f.alertsAtPlatform).size}; ` +
        `platform got ${f.platform.found} of the kept ${f.keptRefs.length} device events; drain ${f.drainMs} ms; door.forced → alert stored under load: max ${Math.max(...f.alertLatencyMs)} ms`,
    );
  }, 600_000);
});
