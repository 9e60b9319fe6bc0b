import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceSchema } from '../../../config/schema/devices.ts';
import { SerialBusSchema } from '../../../config/schema/serial.ts';
import type { DriverContext } from '../../../device-drivers/driver.ts';
import { SerialDriver } from '../../../device-drivers/serial/serial-driver.ts';
import { EventBus } from '../../../gateway/core/bus.ts';
import { systemClock } from '../../../gateway/core/clock.ts';
import { Metrics } from '../../../gateway/core/metrics.ts';
import type { Alert, DeviceEventInput, Identity } from '../../../gateway/core/model.ts';
import { waitFor } from '../../helpers/net.ts';
import { requireTool } from '../../helpers/tools.ts';
import { PtyPair, SimulatedLine, type ReaderScript, type UnitState } from './pty.ts';
import { rejectedCount } from './mock-line.ts';

const haveSocat = requireTool('socat', 'socat');

describe.skipIf(!haveSocat)('serial driver through socat ptys (real serialport bindings)', () => {
  let dir: string;
  let pty: PtyPair;
  let line: SimulatedLine;
  let driver: SerialDriver;
  let io: UnitState;
  let siren: UnitState;
  let reader: ReaderScript;
  const gatewayBus = new EventBus();
  const metrics = new Metrics();
  const logLines: string[] = [];
  const events: DeviceEventInput[] = [];
  const seen: string[] = [];
  const offline: { id: string; reason: string }[] = [];
  const people: Record<string, Identity> = {
    '1001': { kind: 'resident', personId: 'p1', name: '张三' },
    '6666': { kind: 'watchlisted', watch: { entryId: 'w1', level: 'critical', reason: '在逃' } },
  };

  const device = (d: Record<string, unknown>) => DeviceSchema.parse(d);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gg-serial-'));
    pty = new PtyPair(dir);
    await pty.start();
    line = new SimulatedLine(pty.devicePath);
    io = line.unit(1, { discreteInputs: [false, false, false, false], coils: [false, false] });
    siren = line.unit(5, { coils: [false] });
    line.unit(9, { coils: [false] });
    line.exceptionUnits.set(9, 2);
    reader = line.reader(7);
    await line.open();

    const ctx: DriverContext = {
      devices: [
        device({
          id: 'io-1',
          kind: 'access-controller',
          transport: 'serial',
          serial: {
            bus: 'rs485-1',
            protocol: 'modbus-rtu',
            address: 1,
            points: [
              { name: 'door contact', table: 'discrete-input', address: 0, on: 'door.opened', off: 'door.closed' },
              { name: 'exit button', table: 'discrete-input', address: 1, on: 'door.exit-button' },
              { name: 'smoke relay', table: 'discrete-input', address: 2, on: 'sensor.smoke', off: 'sensor.restored' },
              { name: 'tamper', table: 'discrete-input', address: 3, on: 'device.tamper' },
            ],
            outputs: { doorStrike: { coil: 0, pulseMs: 300 } },
          },
        }),
        device({ id: 'siren-1', kind: 'alarm-output', transport: 'serial', serial: { bus: 'rs485-1', protocol: 'modbus-rtu', address: 5, outputs: { siren: { coil: 0 } }, alarm: { severities: ['critical'], holdSeconds: 600 } } }),
        device({ id: 'odd-1', kind: 'sensor', transport: 'serial', serial: { bus: 'rs485-1', protocol: 'modbus-rtu', address: 9, points: [{ table: 'coil', address: 40, on: 'sensor.water' }] } }),
        device({ id: 'rd-1', kind: 'access-controller', transport: 'serial', serial: { bus: 'rs485-1', protocol: 'gg-frame', address: 7, openMs: 2500 } }),
      ],
      ingest: async (input) => {
        events.push(input);
        return {} as never;
      },
      deviceSeen: async (id) => {
        seen.push(id);
      },
      deviceOffline: (id, reason) => offline.push({ id, reason }),
      clock: systemClock,
      metrics,
      log: pino({ level: 'debug' }, { write: (l: string) => logLines.push(l) }),
    };
    driver = new SerialDriver(ctx, {
      buses: [SerialBusSchema.parse({ id: 'rs485-1', path: pty.gatewayPath, baudRate: 9600, timeoutMs: 150, retries: 1, pollIntervalMs: 40, direction: 'rts', reconnectMinMs: 100, reconnectMaxMs: 800, offlineAfterFailures: 2 })],
      bus: gatewayBus,
      identify: (refs) => people[refs.cardNo ?? ''] ?? { kind: 'unknown' },
    });
    await driver.start();
    await waitFor(() => driver.health()['serial:rs485-1']?.connected, 'bus open');
  });

  afterAll(async () => {
    await driver?.stop();
    await line?.close();
    await pty?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const eventsOf = (id: string) => events.filter((e) => e.deviceId === id);

  it('door contact, exit button, smoke relay and tamper changes become events; the first state is not an event', async () => {
    await waitFor(() => seen.includes('io-1'), 'io-1 answered');
    expect(eventsOf('io-1')).toEqual([]);
    io.discreteInputs[0] = true;
    await waitFor(() => eventsOf('io-1').length === 1, 'door.opened');
    io.discreteInputs[0] = false;
    await waitFor(() => eventsOf('io-1').length === 2, 'door.closed');
    io.discreteInputs[1] = true;
    io.discreteInputs[2] = true;
    io.discreteInputs[3] = true;
    await waitFor(() => eventsOf('io-1').length === 5, 'exit, smoke, tamper');
    expect(eventsOf('io-1').map((e) => e.type)).toEqual(['door.opened', 'door.closed', 'door.exit-button', 'sensor.smoke', 'device.tamper']);
    expect(eventsOf('io-1')[0]!.payload).toMatchObject({ point: 'door contact', table: 'discrete-input', address: 0, active: true });
    io.discreteInputs[2] = false;
    await waitFor(() => eventsOf('io-1').some((e) => e.type === 'sensor.restored'), 'smoke restored');
  });

  it('bad CRC, truncated replies and noise are counted and retried; no change is lost or doubled', async () => {
    const crcBefore = await rejectedCount(metrics, 'crc-error');
    const before = eventsOf('io-1').length;
    line.corruptNext = 1;
    await waitFor(async () => (await rejectedCount(metrics, 'crc-error')) > crcBefore, 'crc-error counted');
    line.truncateNext = 1;
    await waitFor(async () => (await rejectedCount(metrics, 'truncated-frame')) > 0, 'truncated-frame counted');
    line.garbageBeforeNext = Buffer.from([0xff, 0x00, 0x13, 0x37]);
    io.discreteInputs[0] = true;
    await waitFor(() => eventsOf('io-1').length === before + 1, 'door.opened after noise');
    expect(eventsOf('io-1').at(-1)!.type).toBe('door.opened');
    expect(driver.health()['serial:rs485-1']!.framesBad).toBeGreaterThanOrEqual(2);
  });

  it('an exception response is counted, never fatal, and the device still counts as answering', async () => {
    await waitFor(async () => (await rejectedCount(metrics, 'modbus-exception')) >= 2, 'exceptions counted');
    expect(seen).toContain('odd-1');
    expect(logLines.some((l) => l.includes('odd-1') && l.includes('illegal data address'))).toBe(true);
    expect(eventsOf('odd-1')).toEqual([]);
  });

  it('card swipes: resident granted, unknown and watchlisted denied, each stored once with cardNo', async () => {
    reader.queue.push({ kind: 'swipe', seq: 1, cardNo: '1001' }, { kind: 'swipe', seq: 2, cardNo: '9999' }, { kind: 'swipe', seq: 3, cardNo: '6666' }, { kind: 'input', seq: 4, code: 0x03 });
    await waitFor(() => eventsOf('rd-1').length === 4, 'reader events');
    expect(eventsOf('rd-1').map((e) => [e.type, e.subjects?.cardNo])).toEqual([
      ['access.granted', '1001'],
      ['access.denied', '9999'],
      ['access.denied', '6666'],
      ['door.exit-button', undefined],
    ]);
    expect(eventsOf('rd-1')[0]!.payload).toMatchObject({ decidedBy: 'gateway', reason: 'resident', readerSignalled: true });
    expect(reader.decisions).toEqual([{ granted: true, openMs: 2500 }, { granted: false }, { granted: false }]);
    await waitFor(() => reader.queue.length === 0, 'reader queue drained by acks');
  });

  it('reader faults: a bad checksum, a cut frame and garbage before a reply cost a retry, not an event', async () => {
    const before = eventsOf('rd-1').length;
    const crcBefore = await rejectedCount(metrics, 'crc-error');
    line.corruptNext = 1;
    reader.queue.push({ kind: 'swipe', seq: 10, cardNo: '1001' });
    await waitFor(() => eventsOf('rd-1').length === before + 1, 'swipe after bad checksum');
    expect(await rejectedCount(metrics, 'crc-error')).toBeGreaterThan(crcBefore);
    line.truncateNext = 1;
    reader.queue.push({ kind: 'swipe', seq: 11, cardNo: '1001' });
    await waitFor(() => eventsOf('rd-1').length === before + 2, 'swipe after truncated frame');
    line.garbageBeforeNext = Buffer.from([0x02, 0x07, 0x30, 0x99, 0xde, 0xad, 0x03, 0x02]);
    reader.queue.push({ kind: 'swipe', seq: 12, cardNo: '9999' });
    await waitFor(() => eventsOf('rd-1').length === before + 3, 'swipe after garbage');
    line.send(Buffer.from('random bytes on an idle line'));
    reader.queue.push({ kind: 'swipe', seq: 13, cardNo: '1001' });
    await waitFor(() => eventsOf('rd-1').length === before + 4, 'swipe after random bytes');
    expect(eventsOf('rd-1').slice(before).map((e) => e.payload?.['readerSeq'])).toEqual([10, 11, 12, 13]);
  });

  it('door.open pulses the strike coil; a critical alert sounds the siren until acknowledged', async () => {
    const result = await driver.sendCommand('io-1', { id: 'c1', type: 'door.open' });
    expect(result).toMatchObject({ ok: true, data: { coil: 0, pulseMs: 300 } });
    await waitFor(() => io.coilWrites.length === 2, 'strike released after the pulse');
    expect(io.coilWrites).toEqual([
      { coil: 0, on: true },
      { coil: 0, on: false },
    ]);

    const alert = { id: 'a1', severity: 'critical', category: 'property', status: 'new', message: '烟感报警' } as Alert;
    gatewayBus.emit('alert.raised', { ...alert, id: 'a0', severity: 'low' });
    gatewayBus.emit('alert.raised', alert);
    await waitFor(() => siren.coils[0] === true, 'siren on');
    gatewayBus.emit('alert.updated', { alert: { ...alert, status: 'acknowledged' }, transition: null, change: 'transition' });
    await waitFor(() => siren.coils[0] === false, 'siren off on acknowledge');
    expect(siren.coilWrites).toEqual([
      { coil: 0, on: true },
      { coil: 0, on: false },
    ]);
  });

  it('unplug: socat killed → devices offline; the same link paths come back → the driver resumes without restart', async () => {
    const reconnectsBefore = driver.health()['serial:rs485-1']!.reconnects;
    await line.close();
    await pty.stop();
    await waitFor(() => !driver.health()['serial:rs485-1']!.connected, 'bus reported down', 15_000);
    await waitFor(() => ['io-1', 'rd-1', 'siren-1'].every((id) => offline.some((o) => o.id === id)), 'devices offline', 15_000);
    expect(offline.find((o) => o.id === 'io-1')!.reason).toMatch(/serial bus rs485-1 lost|polls without a valid answer/);

    // Alarm raised while unplugged: the siren is switched on once the line is back.
    gatewayBus.emit('alert.raised', { id: 'a2', severity: 'critical', category: 'police', status: 'new', message: 'SOS' } as Alert);

    // Stay unplugged through a few failed reopen attempts (backoff 100, 200, 400 ms…).
    const attempts = () => logLines.filter((l) => l.includes('reopen in')).length;
    const attemptsBefore = attempts();
    await waitFor(() => attempts() >= attemptsBefore + 3, 'failed reopen attempts', 15_000);
    expect(driver.health()['serial:rs485-1']!.detail).toMatch(/last error: cannot open/);

    await pty.start();
    await line.open();
    await waitFor(() => driver.health()['serial:rs485-1']!.connected, 'bus reopened', 20_000);
    expect(driver.health()['serial:rs485-1']!.reconnects).toBe(reconnectsBefore + 1);
    await waitFor(() => siren.coils[0] === true, 'siren re-asserted after replug', 15_000);
    const before = eventsOf('io-1').length;
    io.discreteInputs[0] = !io.discreteInputs[0];
    await waitFor(() => eventsOf('io-1').length === before + 1, 'events after replug', 15_000);
    reader.queue.push({ kind: 'swipe', seq: 20, cardNo: '1001' });
    await waitFor(() => eventsOf('rd-1').some((e) => e.payload?.['readerSeq'] === 20), 'swipe after replug', 15_000);
  });

  it('RTS direction control is refused by the pty and left to the adapter, without failing requests', () => {
    expect(driver.health()['serial:rs485-1']!.detail).toMatch(/RTS direction control refused/);
    expect(logLines.some((l) => l.includes('Inappropriate ioctl') || l.includes('refuses RTS'))).toBe(true);
  });
});
