/**
 * Clock jumps, long version (npm run test:faults): 16 devices, eight steps from ±30 s to ±7 days,
 * 5 s of load after each (GRIDGUARD_CLOCK_DWELL_MS). Same assertions as the CI version.
 */
import { describe, it } from 'vitest';
import { requireTool } from '../helpers/tools.ts';
import { checkClockJumps, runClockJumps } from './clock-jump-scenario.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');
const S = 1000;
const HOUR = 3600 * S;
const DAY = 24 * HOUR;
const DWELL_MS = Number(process.env.GRIDGUARD_CLOCK_DWELL_MS ?? 5000);

describe.skipIf(!haveMosquitto)('clock jumps: eight steps from ±30 s to ±7 days under long load', () => {
  it('raises no stale offline alerts, keeps alert order and loses no acknowledged event', async () => {
    const steps = [+30 * S, -30 * S, +HOUR, -2 * HOUR, +DAY, -DAY, +7 * DAY, -7 * DAY];
    checkClockJumps(await runClockJumps({ devices: 16, steps, dwellMs: DWELL_MS }), steps.length);
  }, 600_000);
});
