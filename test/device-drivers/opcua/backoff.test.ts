import { afterAll, describe, expect, it } from 'vitest';
import { OpcuaDriver } from '../../../device-drivers/opcua/opcua-driver.ts';
import { FakeClock } from '../../../gateway/core/clock.ts';
import { freePort, waitFor } from '../../helpers/net.ts';
import { opcuaDevice, opcuaServer, RecordingContext, tempPki } from './context.ts';

/**
 * Reconnect timing with an injected clock: a server that is not there (a closed loopback port)
 * is retried with exponential backoff up to the cap, and never given up on.
 */
describe('OPC-UA reconnect backoff', () => {
  let driver: OpcuaDriver;
  afterAll(() => driver?.stop());

  it('retries at reconnectMinMs × 2ⁿ (±20 %) up to reconnectMaxMs, and reports the failure', async () => {
    const clock = new FakeClock();
    const device = opcuaDevice({ id: 'fire-1', kind: 'sensor', opcua: { server: 'gone', nodes: [{ nodeId: 'ns=1;s=X', events: [{ value: true, type: 'sensor.fire' }] }] } });
    const rec = new RecordingContext([device], undefined, clock);
    const port = await freePort();
    driver = new OpcuaDriver(rec.ctx, [opcuaServer({ id: 'gone', endpoint: `opc.tcp://127.0.0.1:${port}`, reconnectMinMs: 100, reconnectMaxMs: 1_000 })], { pkiDir: tempPki() });
    await driver.start();
    const link = driver.link('gone')!;

    const expected = [100, 200, 400, 800, 1_000, 1_000];
    for (const [i, base] of expected.entries()) {
      // Each attempt fails for real (connection refused); its retry is then scheduled on the fake clock.
      await waitFor(() => link.attempts === i + 1 && link.retryDelayMs > 0 && !link.connected && retryArmed(link), `attempt ${i + 1} to fail`, 30_000);
      const delay = link.retryDelayMs;
      expect(delay).toBeGreaterThanOrEqual(base * 0.8);
      expect(delay).toBeLessThanOrEqual(base * 1.2);
      clock.advance(delay - 1);
      expect(link.attempts).toBe(i + 1);
      clock.advance(1);
      expect(link.attempts).toBe(i + 2);
    }
    expect(driver.health().gone).toMatchObject({ connected: false, reconnects: 0 });
    expect(driver.health().gone!.detail).toMatch(/disconnected: .*(ECONNREFUSED|connect|refused)/i);
    expect(rec.logLines.some((l) => /OPC-UA server gone unreachable/.test(l.msg))).toBe(true);
    expect(rec.seen).toEqual([]);
  }, 120_000);
});

function retryArmed(link: object): boolean {
  return (link as { retryTimer: unknown }).retryTimer !== null;
}
