import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceSchema } from '../../../config/schema/devices.ts';
import { SerialBusSchema } from '../../../config/schema/serial.ts';
import type { DriverContext } from '../../../device-drivers/driver.ts';
import { AlarmOutput } from '../../../device-drivers/serial/alarm-output.ts';
import { CMD, encodeFrame, findFrame } from '../../../device-drivers/serial/codecs/gg-frame.ts';
import { ggFrameCodec } from '../../../device-drivers/serial/codecs/gg-frame.ts';
import { ModbusDevice, planBlocks } from '../../../device-drivers/serial/modbus-device.ts';
import { slave } from '../../../device-drivers/serial/modbus-rtu.ts';
import { decideAccess, ReaderDevice } from '../../../device-drivers/serial/reader-device.ts';
import { SerialBus } from '../../../device-drivers/serial/serial-bus.ts';
import { EventBus } from '../../../gateway/core/bus.ts';
import type { Alert, DeviceEventInput } from '../../../gateway/core/model.ts';
import { flush, MockLine, rejectedCount, testKit } from './mock-line.ts';

/** Devices on a binding-mock port with a FakeClock: timing is driven by the test, not by the machine. */
describe('serial devices on a mock bus', () => {
  let line: MockLine;
  let kit: ReturnType<typeof testKit>;
  let bus: SerialBus;
  let events: DeviceEventInput[];
  let offline: string[];
  let seen: string[];
  let ctx: DriverContext;
  const busConfig = SerialBusSchema.parse({ id: 'b', path: '/dev/ttyMOCK1', timeoutMs: 50, retries: 1, offlineAfterFailures: 2 });

  const advance = async (ms: number, step = 1) => {
    for (let t = 0; t < ms; t += step) {
      kit.clock.advance(Math.min(step, ms - t));
      await flush(3);
    }
  };
  /** Runs a poll to its end while fake time moves. */
  const run = async (p: Promise<unknown>, ms = 400) => {
    let done = false;
    void p.finally(() => (done = true)).catch(() => {});
    for (let t = 0; t < ms && !done; t += 2) await advance(2, 2);
    return p;
  };

  beforeEach(async () => {
    MockLine.binding.reset();
    line = new MockLine(busConfig.path);
    kit = testKit();
    events = [];
    offline = [];
    seen = [];
    ctx = {
      devices: [],
      ingest: async (input) => {
        events.push(input);
        return {} as never;
      },
      deviceSeen: async (id) => void seen.push(id),
      deviceOffline: (id) => void offline.push(id),
      clock: kit.clock,
      metrics: kit.metrics,
      log: kit.log,
    };
    bus = new SerialBus({ config: busConfig, clock: kit.clock, metrics: kit.metrics, log: kit.log, openPort: line.opener, portExists: () => true });
    bus.start();
    await flush();
  });

  afterEach(async () => {
    await bus.stop();
  });

  const modbus = (serial: Record<string, unknown>, kind = 'sensor') =>
    new ModbusDevice({ device: DeviceSchema.parse({ id: 'm1', kind, transport: 'serial', serial: { bus: 'b', protocol: 'modbus-rtu', address: 4, ...serial } }), busConfig, bus, ctx });

  it('plans one read per table covering its points', () => {
    const points = [
      { table: 'discrete-input', address: 3, on: 'door.opened' },
      { table: 'discrete-input', address: 0, on: 'door.exit-button' },
      { table: 'input-register', address: 10, above: 100, on: 'sensor.gas' },
    ].map((p) => ({ invert: false, reportInitial: false, ...p })) as never;
    expect(planBlocks(points).map((b) => [b.table, b.start, b.count])).toEqual([
      ['discrete-input', 0, 4],
      ['input-register', 10, 1],
    ]);
  });

  it('normally-closed contacts (invert) and register thresholds map to events', async () => {
    const device = modbus({
      points: [
        { name: 'door NC', table: 'discrete-input', address: 0, invert: true, on: 'door.opened', off: 'door.closed' },
        { name: 'gas ppm', table: 'input-register', address: 0, above: 500, on: 'sensor.gas', off: 'sensor.restored' },
      ],
    });
    let contact = true;
    let ppm = 10;
    line.answer = (req) => (req[1] === 2 ? slave.readBitsReply(4, 2, [contact]) : slave.readRegistersReply(4, 4, [ppm]));
    await run(device.pollNow());
    expect(events).toEqual([]);
    contact = false;
    ppm = 900;
    await run(device.pollNow());
    expect(events.map((e) => [e.type, e.payload?.['value']])).toEqual([
      ['door.opened', 0],
      ['sensor.gas', 900],
    ]);
  });

  it('reportInitial reports the state found at the first poll', async () => {
    const device = modbus({ points: [{ table: 'coil', address: 0, on: 'sensor.water', reportInitial: true }] });
    line.answer = () => slave.readBitsReply(4, 1, [true]);
    await run(device.pollNow());
    expect(events.map((e) => e.type)).toEqual(['sensor.water']);
  });

  it('an exception is counted once, not retried, and the device stays online', async () => {
    const device = modbus({ points: [{ table: 'holding-register', address: 99, above: 0, on: 'sensor.gas' }] });
    line.answer = (req) => slave.exceptionReply(4, req[1]!, 2);
    await run(device.pollNow());
    await run(device.pollNow());
    expect(line.writes).toHaveLength(2);
    expect(await rejectedCount(kit.metrics, 'modbus-exception')).toBe(2);
    expect(offline).toEqual([]);
    expect(seen).toEqual(['m1']);
  });

  it('goes offline after offlineAfterFailures silent polls and back online at the next answer', async () => {
    const device = modbus({ points: [{ table: 'coil', address: 0, on: 'sensor.water' }] });
    line.answer = () => slave.readBitsReply(4, 1, [false]);
    await run(device.pollNow());
    expect(device.isOnline).toBe(true);
    line.answer = () => null;
    await run(device.pollNow());
    expect(offline).toEqual([]);
    await run(device.pollNow());
    expect(offline).toEqual(['m1']);
    line.answer = () => slave.readBitsReply(4, 1, [false]);
    await run(device.pollNow());
    expect(device.isOnline).toBe(true);
    expect(seen).toEqual(['m1', 'm1']);
  });

  it('the siren state is re-written at the next poll when a write failed', async () => {
    const device = modbus({ outputs: { siren: { coil: 3 } } }, 'alarm-output');
    line.answer = () => null;
    await run(device.setSiren(true).catch(() => {}));
    expect(device.sirenState).toEqual({ wanted: true, written: null });
    line.answer = (req) => (req[1] === 5 ? Buffer.from(req) : slave.readBitsReply(4, 1, [true]));
    await run(device.pollNow());
    expect(device.sirenState).toEqual({ wanted: true, written: true });
    expect(line.writes.filter((w) => w[1] === 5).at(-1)!.toString('hex').slice(0, 12)).toBe('04050003ff00');
  });

  it('a poll running while the siren write is queued does not write it a second time', async () => {
    const device = modbus({ outputs: { siren: { coil: 3 } } }, 'alarm-output');
    line.answer = (req) => (req[1] === 5 ? Buffer.from(req) : slave.readBitsReply(4, 1, [true]));
    await run(Promise.all([device.setSiren(true), device.pollNow()]));
    expect(line.writes.filter((w) => w[1] === 5)).toHaveLength(1);
    expect(device.sirenState).toEqual({ wanted: true, written: true });
  });

  it('door.open pulses the strike coil for pulseMs on the injected clock', async () => {
    const device = modbus({ outputs: { doorStrike: { coil: 1, pulseMs: 2000 } } }, 'access-controller');
    line.answer = (req) => Buffer.from(req);
    const result = await run(device.sendCommand({ id: 'c', type: 'door.open' }));
    expect(result).toMatchObject({ ok: true });
    const coilWrites = () => line.writes.filter((w) => w[1] === 5).map((w) => w.readUInt16BE(4) === 0xff00);
    expect(coilWrites()).toEqual([true]);
    await advance(1990, 10);
    expect(coilWrites()).toEqual([true]);
    await advance(30, 10);
    expect(coilWrites()).toEqual([true, false]);
    expect(await device.sendCommand({ id: 'd', type: 'relay.pulse', params: { coil: 'x' } })).toMatchObject({ ok: false, error: /params.coil/ });
    expect(await device.sendCommand({ id: 'e', type: 'alarm.on' })).toMatchObject({ ok: false, error: /no outputs.siren/ });
  });

  it('a pulse whose release failed is released at the next poll; stop() releases a pulse in progress', async () => {
    const device = modbus({ outputs: { doorStrike: { coil: 1, pulseMs: 1000 } } }, 'access-controller');
    const coilWrites = () => line.writes.filter((w) => w[1] === 5).map((w) => w.readUInt16BE(4) === 0xff00);
    line.answer = (req) => Buffer.from(req);
    await run(device.sendCommand({ id: 'c', type: 'door.open' }));
    line.answer = () => null; // the release is lost on the line
    await advance(1000, 10);
    await advance(200, 5);
    expect(coilWrites()).toEqual([true, false, false]);
    line.answer = (req) => (req[1] === 5 ? Buffer.from(req) : slave.readBitsReply(4, 1, [false]));
    await run(device.pollNow());
    expect(coilWrites()).toEqual([true, false, false, false]);
    await run(device.pollNow());
    expect(coilWrites()).toHaveLength(4); // released once, not again

    await run(device.sendCommand({ id: 'd', type: 'door.open' }));
    await run(device.stop());
    expect(coilWrites().slice(-2)).toEqual([true, false]);
  });

  describe('card reader', () => {
    const readerDevice = (watchlisted = 'deny') =>
      new ReaderDevice(
        { device: DeviceSchema.parse({ id: 'r1', kind: 'access-controller', transport: 'serial', serial: { bus: 'b', protocol: 'gg-frame', address: 6, watchlisted } }), busConfig, bus, ctx },
        ggFrameCodec,
        (refs) => (refs.cardNo === '1001' ? { kind: 'resident', personId: 'p1' } : { kind: 'unknown' }),
      );

    it('a reader that missed our ack repeats the swipe: the same sequence number is acknowledged again, not stored twice', async () => {
      const device = readerDevice();
      const polls: (number | null)[] = [];
      let repeated = false;
      line.answer = (req) => {
        const f = findFrame(req);
        if (f.kind !== 'frame') return null;
        if (f.frame.command === CMD.POLL) {
          const ack = f.frame.payload.length ? f.frame.payload[0]! : null;
          polls.push(ack);
          if (ack === 5 && repeated) return encodeFrame(6, CMD.IDLE);
          if (ack === 5) repeated = true; // the ack was lost on its way: the reader still holds seq 5
          return encodeFrame(6, CMD.SWIPE, Buffer.from([5, ...Buffer.from('1001')]));
        }
        return encodeFrame(6, CMD.ACK);
      };
      await run(device.pollNow());
      expect(events.map((e) => e.type)).toEqual(['access.granted']);
      await run(device.pollNow());
      await run(device.pollNow());
      expect(polls).toEqual([null, 5, 5]);
      expect(events).toHaveLength(1);
      expect(line.writes.filter((w) => w[3] === CMD.GRANT)).toHaveLength(1);
    });

    it('the reader is told grant or deny before the event is stored', async () => {
      const device = readerDevice();
      const order: string[] = [];
      ctx.ingest = async (input) => {
        order.push(`stored ${input.type}`);
        return {} as never;
      };
      line.answer = (req) => {
        const f = findFrame(req);
        if (f.kind !== 'frame') return null;
        if (f.frame.command === CMD.POLL) return encodeFrame(6, CMD.SWIPE, Buffer.from([1, ...Buffer.from('4242')]));
        order.push(f.frame.command === CMD.DENY ? 'reader told deny' : 'reader told grant');
        return encodeFrame(6, CMD.ACK);
      };
      await run(device.pollNow());
      expect(order).toEqual(['reader told deny', 'stored access.denied']);
    });
  });

  it('decideAccess: residents and visitors pass; unknown and watchlisted do not, unless configured for registered people', () => {
    expect(decideAccess({ kind: 'resident' }, 'deny').granted).toBe(true);
    expect(decideAccess({ kind: 'visitor' }, 'deny').granted).toBe(true);
    expect(decideAccess({ kind: 'unknown' }, 'deny').granted).toBe(false);
    expect(decideAccess(undefined, 'deny').granted).toBe(false);
    const watched = { kind: 'watchlisted' as const, personId: 'p9', watch: { entryId: 'w', level: 'high' as const, reason: 'x' } };
    expect(decideAccess(watched, 'deny')).toEqual({ granted: false, reason: 'watchlisted' });
    expect(decideAccess(watched, 'grant-if-registered').granted).toBe(true);
    expect(decideAccess({ ...watched, personId: undefined }, 'grant-if-registered').granted).toBe(false);
  });

  describe('alarm output', () => {
    const alert = (over: Partial<Alert>) => ({ id: 'a1', severity: 'critical', category: 'property', status: 'new', message: 'x', ...over }) as Alert;
    let switched: boolean[];
    let output: AlarmOutput;
    let gatewayBus: EventBus;

    beforeEach(() => {
      switched = [];
      gatewayBus = new EventBus();
      output = new AlarmOutput({
        siren: { id: 's1', setSiren: async (on) => void switched.push(on) },
        config: { severities: ['critical', 'high'], categories: ['property'], holdSeconds: 60 },
        bus: gatewayBus,
        ctx,
      });
      output.start();
    });

    afterEach(() => output.stop());

    it('sounds for matching alerts only, stays on until every one is acknowledged', () => {
      gatewayBus.emit('alert.raised', alert({ id: 'low', severity: 'low' }));
      gatewayBus.emit('alert.raised', alert({ id: 'police', category: 'police' }));
      expect(switched).toEqual([]);
      gatewayBus.emit('alert.raised', alert({ id: 'a1' }));
      gatewayBus.emit('alert.raised', alert({ id: 'a2', severity: 'high' }));
      expect(switched).toEqual([true, true]);
      expect(output.sounding).toEqual(['a1', 'a2']);
      gatewayBus.emit('alert.updated', { alert: alert({ id: 'a1', status: 'acknowledged' }), transition: null, change: 'transition' });
      expect(switched).toEqual([true, true]);
      gatewayBus.emit('alert.updated', { alert: alert({ id: 'a2', status: 'false-alarm' }), transition: null, change: 'transition' });
      expect(switched).toEqual([true, true, false]);
    });

    it('a merged re-trigger does not switch again; an escalation into a matching severity does', () => {
      gatewayBus.emit('alert.raised', alert({ id: 'a1' }));
      gatewayBus.emit('alert.updated', { alert: alert({ id: 'a1' }), transition: null, change: 'merged' });
      expect(switched).toEqual([true]);
      gatewayBus.emit('alert.raised', alert({ id: 'm', severity: 'medium' }));
      gatewayBus.emit('alert.updated', { alert: alert({ id: 'm', severity: 'critical' }), transition: null, change: 'escalated' });
      expect(output.sounding).toEqual(['a1', 'm']);
    });

    it('stops after holdSeconds when nobody acknowledges', () => {
      gatewayBus.emit('alert.raised', alert({ id: 'a1' }));
      kit.clock.advance(59_999);
      expect(switched).toEqual([true]);
      kit.clock.advance(1);
      expect(switched).toEqual([true, false]);
      expect(output.sounding).toEqual([]);
    });
  });
});
