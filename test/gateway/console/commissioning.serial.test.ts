import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PtyPair, SimulatedLine, type UnitState } from '../../device-drivers/serial/pty.ts';
import { startGateway, testSite, type TestGateway } from '../../helpers/gateway.ts';
import { loginAs, type LoggedIn } from '../../helpers/login.ts';
import { waitFor } from '../../helpers/net.ts';
import { requireTool } from '../../helpers/tools.ts';

const haveSocat = requireTool('socat', 'socat');

describe.skipIf(!haveSocat)('commissioning tests of RS-485 devices on a socat pty', () => {
  let dir: string;
  let pty: PtyPair;
  let line: SimulatedLine;
  let gw: TestGateway;
  let installer: LoggedIn;
  let door: UnitState;
  let siren: UnitState;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gg-cm-serial-'));
    pty = new PtyPair(dir);
    await pty.start();
    line = new SimulatedLine(pty.devicePath);
    door = line.unit(4, { coils: [false, false] });
    siren = line.unit(5, { coils: [false] });
    await line.open();
    const site = await testSite();
    site['serialBuses'] = [{ id: 'rs485-b1', path: pty.gatewayPath, baudRate: 9600, timeoutMs: 200, pollIntervalMs: 100, reconnectMinMs: 100 }];
    site['devices'] = [
      ...(site['devices'] as unknown[]),
      { id: 'door-b1', kind: 'access-controller', transport: 'serial', location: { building: 'b1' }, serial: { bus: 'rs485-b1', protocol: 'modbus-rtu', address: 4, outputs: { doorStrike: { coil: 1 } } } },
      { id: 'siren-b1', kind: 'alarm-output', transport: 'serial', location: { building: 'b1' }, serial: { bus: 'rs485-b1', protocol: 'modbus-rtu', address: 5, outputs: { siren: { coil: 0 } } } },
    ];
    gw = await startGateway(site);
    installer = await loginAs(gw, 'installer');
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
    await line?.close();
    await pty?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const test = async (id: string) => (await (await fetch(`${gw.httpUrl}/api/commissioning/${id}/test`, { method: 'POST', headers: { ...installer.headers, 'content-type': 'application/json' }, body: '{}' })).json()) as any;

  it('the devices show the health of their bus once it answers', async () => {
    const link = await waitFor(async () => {
      const { devices } = (await (await fetch(`${gw.httpUrl}/api/devices`, { headers: installer.headers })).json()) as any;
      const l = devices.find((d: any) => d.id === 'door-b1').link;
      return l?.connected && l.framesOk > 0 ? l : null;
    }, 'bus link up with frames', 30_000, 100);
    expect(link.framesBad).toBe(0);
  });

  it('pulses the door strike coil for half a second', async () => {
    const body = await test('door-b1');
    expect(body.ok).toBe(true);
    expect(body.steps).toEqual([expect.objectContaining({ type: 'door.open', params: { ms: 500 }, status: 200, result: expect.objectContaining({ ok: true, data: { coil: 1, pulseMs: 500 } }) })]);
    await waitFor(() => door.coilWrites.some((w) => w.coil === 1 && !w.on), 'strike released', 30_000);
    expect(door.coilWrites.filter((w) => w.coil === 1).map((w) => w.on)).toEqual([true, false]);
  });

  it('sounds the siren and switches it off again', async () => {
    const body = await test('siren-b1');
    expect(body.ok).toBe(true);
    expect(body.steps.map((s: any) => [s.type, s.result.ok])).toEqual([['alarm.on', true], ['alarm.off', true]]);
    expect(siren.coilWrites.filter((w) => w.coil === 0).map((w) => w.on)).toEqual([true, false]);
    expect(siren.coils[0]).toBe(false);
  });

  it('a unit that stops answering makes the test fail with the driver\'s error', async () => {
    line.exceptionUnits.set(4, 4);
    try {
      const body = await test('door-b1');
      expect(body.ok).toBe(false);
      expect(body.steps[0].status).toBe(502);
      expect(body.steps[0].result.error).toBeTruthy();
    } finally {
      line.exceptionUnits.delete(4);
    }
  });
});
