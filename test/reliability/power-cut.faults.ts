/**
 * Power cut, long version (npm run test:faults): 20 kills under load from 16 devices, half of
 * them inside a SQLite write transaction. GRIDGUARD_POWER_CUTS and GRIDGUARD_POWER_CUT_SEED
 * change the count and the kill pattern.
 */
import { describe, expect, it } from 'vitest';
import { requireTool } from '../helpers/tools.ts';
import { runPowerCut } from './power-cut-scenario.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');
const KILLS = Number(process.env.GRIDGUARD_POWER_CUTS ?? 20);
const SEED = Number(process.env.GRIDGUARD_POWER_CUT_SEED ?? 20261129);

describe.skipIf(!haveMosquitto)(`power cut: ${KILLS} kills -9, half mid-transaction, under device load`, () => {
  it('the database opens cleanly after every kill and no acknowledged event is lost, in the store or at the platform', async () => {
    const figures = await runPowerCut({ kills: KILLS, devices: 16, seed: SEED });
    for (const kill of figures.kills) {
      expect(kill.integrity, `run ${kill.run}`).toBe('ok');
      expect(kill.store.lost, `run ${kill.run}: acknowledged events missing from the store`).toEqual([]);
      expect(kill.store.duplicated, `run ${kill.run}`).toEqual([]);
    }
    expect(figures.kills.filter((k) => k.how === 'cut-in-transaction').every((k) => k.detail.includes('inTransaction=true'))).toBe(true);
    expect(figures.finalStore.lost).toEqual([]);
    expect(figures.platform.lost).toEqual([]);
    const opens = figures.kills.map((k) => k.openMs).sort((a, b) => a - b);
    const wal = figures.kills.map((k) => k.walBytesAtKill);
    console.log(
      `power cut summary: ${KILLS} kills (${figures.kills.filter((k) => k.how === 'cut-in-transaction').length} in a transaction), ` +
        `${figures.finalStore.acked} acked events, lost in store ${figures.finalStore.lost.length}, lost at platform ${figures.platform.lost.length}, ` +
        `platform duplicates ${figures.platform.extraCopies}, stored without PUBACK ${figures.finalStore.unacked}; ` +
        `reopen + integrity_check median ${opens[Math.floor(opens.length / 2)]} ms, max ${opens[opens.length - 1]} ms; WAL at kill max ${Math.max(...wal)} B; ` +
        `device connects ${figures.connects}, drops ${figures.drops}; child start median ${[...figures.startMs].sort((a, b) => a - b)[Math.floor(figures.startMs.length / 2)]} ms`,
    );
  }, 600_000);
});
