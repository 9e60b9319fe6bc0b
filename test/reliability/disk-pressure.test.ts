/**
 * Disk pressure, short version for CI: 64 KiB outbox quota, eight devices for a few seconds
 * with the platform down, three alerts raised meanwhile. Long version: disk-pressure.faults.ts.
 */
import { describe, it } from 'vitest';
import { requireTool } from '../helpers/tools.ts';
import { checkDiskPressure, runDiskPressure } from './disk-pressure-scenario.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');

describe.skipIf(!haveMosquitto)('disk pressure: outbox quota reached under load, platform down', () => {
  it('keeps every acknowledged event in the store and every alert, reports the evictions, sends exactly what was kept', async () => {
    const f = await runDiskPressure({ devices: 8, alerts: 3, loadMs: 4000, quotaBytes: 64 * 1024 });
    checkDiskPressure(f);
  }, 180_000);
});
