/**
 * Clock jumps, CI version: the gateway's wall clock stepped +1 h and then −2 h while eight
 * devices keep publishing (ledger-checked), a door forced before and after each step. Expected:
 * no device judged offline and no device-offline alert because of a step; a device that really
 * went silent is still noticed after the backward step; door alerts reach the platform in the
 * order they were raised (outbox order is by seq, not by time: the last one has the earliest
 * timestamp); every acknowledged event stored once and delivered. Long version: clock-jump.faults.ts.
 */
import { describe, it } from 'vitest';
import { requireTool } from '../helpers/tools.ts';
import { checkClockJumps, runClockJumps } from './clock-jump-scenario.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');
const HOUR = 3_600_000;

describe.skipIf(!haveMosquitto)('clock jumps: wall time stepped forward and back under load', () => {
  it('raises no stale offline alerts, keeps alert order and loses no acknowledged event', async () => {
    const steps = [+HOUR, -2 * HOUR];
    checkClockJumps(await runClockJumps({ devices: 8, steps, dwellMs: 1000 }), steps.length);
  }, 120_000);
});
