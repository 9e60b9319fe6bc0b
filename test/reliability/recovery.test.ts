/**
 * Vanishing ports, short version for CI: one serial unplug/replug and one OPC-UA server
 * kill/restart on a whole gateway. No timing bound here (see recovery.faults.ts, bench/recovery.ts).
 */
import { describe, expect, it } from 'vitest';
import { requireTool } from '../helpers/tools.ts';
import { runRecovery } from './recovery-scenario.ts';

const haveSocat = requireTool('socat', 'socat');

describe.skipIf(!haveSocat)('vanishing ports: serial unplug and OPC-UA server restart', () => {
  it('the gateway notices each outage and heals without a restart; a change made while the port was away is stored', async () => {
    // runRecovery throws unless each link is reported down, then up again, and the change made
    // while its port was away arrives as a stored event.
    const f = await runRecovery({ rounds: 1, outageMs: 1000 });
    expect(f.serial.samples).toHaveLength(1);
    expect(f.opcua.samples).toHaveLength(1);
  }, 240_000);
});
