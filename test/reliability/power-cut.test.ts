/**
 * Power cut, short version for CI: three kills (two inside a SQLite transaction, one from
 * outside) under load from eight devices. The long version (20 kills) is power-cut.faults.ts.
 */
import { describe, expect, it } from 'vitest';
import { requireTool } from '../helpers/tools.ts';
import { runPowerCut } from './power-cut-scenario.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');

describe.skipIf(!haveMosquitto)('power cut: kill -9 mid-transaction under device load', () => {
  it('the database opens cleanly after every kill and no acknowledged event is lost, in the store or at the platform', async () => {
    const figures = await runPowerCut({ kills: 3, devices: 8 });
    for (const kill of figures.kills) {
      expect(kill.integrity, `run ${kill.run}`).toBe('ok');
      expect(kill.store.lost, `run ${kill.run}: acknowledged events missing from the store`).toEqual([]);
      // The gateway stores a device's event once; only the platform may see copies after a crash.
      expect(kill.store.duplicated, `run ${kill.run}`).toEqual([]);
    }
    expect(figures.kills.filter((k) => k.how === 'cut-in-transaction').every((k) => k.detail.includes('inTransaction=true'))).toBe(true);
    expect(figures.finalStore.lost).toEqual([]);
    expect(figures.platform.lost).toEqual([]);
    expect(figures.finalStore.acked).toBeGreaterThan(0);
  }, 300_000);
});
