/**
 * Vanishing ports, long version (npm run test:faults): five rounds of serial unplug/replug and
 * OPC-UA server kill/restart on a whole gateway, timings printed; bound asserted generously: the
 * gateway must be back within the longest reconnect pause (30 s default) plus 15 s.
 * For the figures alone: npx tsx bench/recovery.ts.
 */
import { describe, expect, it } from 'vitest';
import { requireTool } from '../helpers/tools.ts';
import { median, runRecovery } from './recovery-scenario.ts';

const haveSocat = requireTool('socat', 'socat');
const ROUNDS = Number(process.env.GRIDGUARD_RECOVERY_ROUNDS ?? 5);
const BOUND_MS = 30_000 + 15_000;

describe.skipIf(!haveSocat)(`vanishing ports: ${ROUNDS} rounds of serial unplug and OPC-UA server restart`, () => {
  it('heals every time, without a gateway restart, and the first field change after the port is back is stored', async () => {
    const f = await runRecovery({ rounds: ROUNDS, outageMs: 3000 });
    for (const s of [...f.serial.samples, ...f.opcua.samples]) {
      expect(s.firstEventMs).toBeLessThan(BOUND_MS);
      expect(s.linkUpMs).toBeLessThan(BOUND_MS);
    }
    const m = (xs: number[]) => Math.round(median(xs));
    console.log(
      `recovery summary: serial link up median ${m(f.serial.samples.map((s) => s.linkUpMs))} ms, first event median ${m(f.serial.samples.map((s) => s.firstEventMs))} ms (baseline ${m(f.serial.baselineMs)} ms); ` +
        `OPC-UA link up median ${m(f.opcua.samples.map((s) => s.linkUpMs))} ms, first event median ${m(f.opcua.samples.map((s) => s.firstEventMs))} ms, max ${Math.round(Math.max(...f.opcua.samples.map((s) => s.firstEventMs)))} ms (baseline ${m(f.opcua.baselineMs)} ms)`,
    );
  }, 600_000);
});
