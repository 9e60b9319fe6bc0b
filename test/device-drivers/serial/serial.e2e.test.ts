import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testSite, type TestGateway } from '../../helpers/gateway.ts';
import { waitFor } from '../../helpers/net.ts';
import { requireTool } from '../../helpers/tools.ts';
import { PtyPair, SimulatedLine, type ReaderScript, type UnitState } from './pty.ts';

const haveSocat = requireTool('socat', 'socat');

describe.skipIf(!haveSocat)('end to end: RS-485 card reader and IO module on a socat pty → real Gateway', () => {
  let dir: string;
  let pty: PtyPair;
  let line: SimulatedLine;
  let gw: TestGateway;
  let reader: ReaderScript;
  let io: UnitState;
  let siren: UnitState;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gg-serial-e2e-'));
    pty = new PtyPair(dir);
    await pty.start();
    line = new SimulatedLine(pty.devicePath);
    reader = line.reader(3);
    io = line.unit(1, { discreteInputs: [false, false] });
    siren = line.unit(2, { coils: [false] });
    await line.open();

    const site = await testSite();
    site['serialBuses'] = [{ id: 'rs485-gate', path: pty.gatewayPath, baudRate: 9600, timeoutMs: 200, pollIntervalMs: 50, reconnectMinMs: 100 }];
    site['devices'] = [
      ...(site['devices'] as unknown[]),
      { id: 'rd-gate-1', kind: 'access-controller', transport: 'serial', location: { gate: 'gate-1' }, serial: { bus: 'rs485-gate', protocol: 'gg-frame', address: 3 } },
      {
        id: 'io-gate-1',
        kind: 'sensor',
        transport: 'serial',
        location: { gate: 'gate-1' },
        serial: { bus: 'rs485-gate', protocol: 'modbus-rtu', address: 1, points: [{ name: 'smoke relay', table: 'discrete-input', address: 0, on: 'sensor.smoke', off: 'sensor.restored' }] },
      },
      { id: 'siren-gate-1', kind: 'alarm-output', transport: 'serial', location: { gate: 'gate-1' }, serial: { bus: 'rs485-gate', protocol: 'modbus-rtu', address: 2, outputs: { siren: { coil: 0 } }, alarm: { severities: ['critical'] } } },
    ];
    gw = await startGateway(site);
  });

  afterAll(async () => {
    await gw?.stop();
    await line?.close();
    await pty?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a resident swipe is stored as access.granted with its identity and the reader opens the door', async () => {
    reader.queue.push({ kind: 'swipe', seq: 1, cardNo: '1001' });
    const { store } = gw.gateway.services;
    const event = await waitFor(() => store.events.query({ deviceId: 'rd-gate-1' }).find((e) => e.subjects.cardNo === '1001'), 'stored swipe');
    expect(event.type).toBe('access.granted');
    expect(event.identity).toMatchObject({ kind: 'resident', personId: 'p1', name: '张三' });
    expect(event.codes).toEqual({ addressCode: 'AC3501020001', communityGridCode: 'CG350102001', policeGridCode: 'PG350102600102' });
    expect(reader.decisions[0]).toEqual({ granted: true, openMs: 3000 });
  });

  it('a watchlisted card is denied, raises a watchlist-hit alert, and the critical alert sounds the siren until acknowledged', async () => {
    reader.queue.push({ kind: 'swipe', seq: 2, cardNo: '6666' });
    const { store, alerts } = gw.gateway.services;
    const event = await waitFor(() => store.events.query({ deviceId: 'rd-gate-1' }).find((e) => e.subjects.cardNo === '6666'), 'stored watchlisted swipe');
    expect(event.type).toBe('access.denied');
    expect(event.identity?.kind).toBe('watchlisted');
    const alert = await waitFor(() => store.alerts.list().find((a) => a.ruleType === 'watchlist-hit' && a.evidence.includes(event.id)), 'watchlist alert');
    expect(alert.severity).toBe('critical');
    expect(alert.message).toContain('1号门');
    expect(reader.decisions.at(-1)).toEqual({ granted: false });

    await waitFor(() => siren.coils[0] === true, 'siren on');
    await alerts.transition(alert.id, 'acknowledged', { by: 'guard' });
    await waitFor(() => siren.coils[0] === false, 'siren off after acknowledge');
  });

  it('a smoke relay on the Modbus module becomes sensor.smoke and the alarm rule fires', async () => {
    io.discreteInputs[0] = true;
    const { store } = gw.gateway.services;
    const event = await waitFor(() => store.events.query({ deviceId: 'io-gate-1', type: 'sensor.smoke' })[0], 'smoke event');
    await waitFor(() => store.alerts.list().find((a) => a.evidence.includes(event.id)), 'smoke alert');
  });

  it('the gateway status (GET /api/status) shows the bus health and the serial devices online', async () => {
    // Read through Gateway.status(), the source of /api/status, so the HTTP auth in front of it does not matter here.
    const status = await waitFor(async () => {
      const body = (await gw.gateway.status()) as any;
      return body.links['serial:rs485-gate']?.framesOk > 0 ? body : null;
    }, 'status with serial link');
    expect(status.links['serial:rs485-gate']).toMatchObject({ connected: true, reconnects: 0 });
    const { monitor } = gw.gateway.services;
    await waitFor(() => ['rd-gate-1', 'io-gate-1', 'siren-gate-1'].every((id) => monitor.get(id)?.online), 'serial devices online');
  });

  it('unplugging the bus marks its devices offline in the monitor; replugging brings them back without a restart', async () => {
    const { monitor } = gw.gateway.services;
    await line.close();
    await pty.stop();
    await waitFor(() => ['rd-gate-1', 'io-gate-1', 'siren-gate-1'].every((id) => monitor.get(id)?.online === false), 'serial devices offline', 15_000);
    await pty.start();
    await line.open();
    await waitFor(() => ['rd-gate-1', 'io-gate-1', 'siren-gate-1'].every((id) => monitor.get(id)?.online), 'serial devices back online', 20_000);
    const status = (await gw.gateway.status()) as any;
    expect(status.links['serial:rs485-gate']).toMatchObject({ connected: true, reconnects: 1 });
    reader.queue.push({ kind: 'swipe', seq: 3, cardNo: '1002' });
    const { store } = gw.gateway.services;
    const event = await waitFor(() => store.events.query({ deviceId: 'rd-gate-1' }).find((e) => e.subjects.cardNo === '1002'), 'swipe after replug', 15_000);
    expect(event.identity).toMatchObject({ kind: 'resident', name: '李四', care: true });
  });
});
