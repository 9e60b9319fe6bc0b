import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readTransaction, slave, writeCoilTransaction } from '../../../device-drivers/serial/modbus-rtu.ts';
import { bitsPerChar, BusClosedError, interFrameGapMs, NoReplyError, SerialBus, wireTimeMs } from '../../../device-drivers/serial/serial-bus.ts';
import { busConfig, flush, MockLine, rejectedCount, testKit } from './mock-line.ts';

describe('serial bus timing figures', () => {
  it('counts start, data, parity and stop bits per character', () => {
    expect(bitsPerChar({ dataBits: 8, parity: 'none', stopBits: 1 })).toBe(10);
    expect(bitsPerChar({ dataBits: 8, parity: 'even', stopBits: 1 })).toBe(11);
    expect(bitsPerChar({ dataBits: 8, parity: 'none', stopBits: 2 })).toBe(11);
  });

  it('t3.5 is 3.5 characters up to 19200 baud and 1.75 ms above', () => {
    const c = { path: 'x', dataBits: 8 as const, parity: 'even' as const, stopBits: 1 as const };
    expect(interFrameGapMs({ ...c, baudRate: 9600 })).toBeCloseTo((3.5 * 11 * 1000) / 9600, 6);
    expect(interFrameGapMs({ ...c, baudRate: 19_200 })).toBeCloseTo((3.5 * 11 * 1000) / 19_200, 6);
    expect(interFrameGapMs({ ...c, baudRate: 115_200 })).toBe(1.75);
    expect(interFrameGapMs({ ...c, baudRate: 115_200, interFrameMs: 5 })).toBe(5);
    expect(wireTimeMs(8, { ...c, baudRate: 9600 })).toBeCloseTo((8 * 11 * 1000) / 9600, 6);
  });
});

describe('SerialBus on a mock port (FakeClock)', () => {
  let line: MockLine;
  let kit: ReturnType<typeof testKit>;
  let bus: SerialBus;
  const connections: [boolean, string][] = [];

  const make = (overrides: Record<string, unknown> = {}) => {
    bus = new SerialBus({
      config: busConfig({ path: line.path, baudRate: 9600, timeoutMs: 100, retries: 2, reconnectMinMs: 200, reconnectMaxMs: 1000, ...overrides }),
      clock: kit.clock,
      metrics: kit.metrics,
      log: kit.log,
      openPort: line.opener,
      portExists: () => true,
      onConnection: (c, r) => connections.push([c, r]),
    });
    bus.start();
  };

  /** Advances fake time in small steps, letting mock I/O run in between. */
  const advance = async (ms: number, step = 1) => {
    for (let t = 0; t < ms; t += step) {
      kit.clock.advance(Math.min(step, ms - t));
      await flush(3);
    }
  };

  beforeEach(async () => {
    MockLine.binding.reset();
    line = new MockLine('/dev/ttyMOCK0');
    kit = testKit();
    connections.length = 0;
  });

  afterEach(async () => {
    await bus?.stop();
  });

  it('exchanges a request and parses the reply; counts a good frame', async () => {
    make();
    await flush();
    expect(bus.isConnected).toBe(true);
    line.answer = () => slave.readBitsReply(1, 2, [true, false, true]);
    const reply = bus.request(readTransaction('io-1', 1, 'discrete-input', 0, 3));
    await advance(5);
    await expect(reply).resolves.toEqual({ bits: [true, false, true] });
    expect(bus.health()).toMatchObject({ connected: true, framesOk: 1, framesBad: 0, reconnects: 0 });
    const at = Date.parse(bus.health().lastFrameAt!);
    expect(at).toBeGreaterThan(kit.clock.now() - 5);
    expect(at).toBeLessThanOrEqual(kit.clock.now());
  });

  it('keeps t3.5 of silence after the last received byte before the next request', async () => {
    make();
    await flush();
    line.answer = (req) => slave.readBitsReply(req[0]!, 2, [true]);
    const gap = bus.interFrameMs; // 3.5 × 10 bits / 9600 baud ≈ 3.65 ms
    expect(gap).toBeCloseTo(3.646, 2);
    const first = bus.request(readTransaction('a', 1, 'discrete-input', 0, 1));
    const second = bus.request(readTransaction('b', 2, 'discrete-input', 0, 1));
    await advance(4, 4); // the first request waits t3.5 after the port opened
    await first;
    expect(line.writes).toHaveLength(1);
    const replyAt = kit.clock.now();
    await advance(3, 3);
    expect(line.writes).toHaveLength(1); // 3 ms < t3.5: still silent
    await advance(1, 1);
    expect(line.writes).toHaveLength(2);
    expect(kit.clock.now() - replyAt).toBeGreaterThanOrEqual(gap);
    await second;
  });

  it('never puts two requests on the wire at once', async () => {
    make();
    await flush();
    line.answer = (req) => slave.readRegistersReply(req[0]!, 4, [req[0]!]);
    const replies = [1, 2, 3, 4, 5].map((u) => bus.request(readTransaction(`d${u}`, u, 'input-register', 0, 1)));
    await advance(100);
    expect(await Promise.all(replies)).toEqual([1, 2, 3, 4, 5].map((u) => ({ registers: [u] })));
    expect(line.writes.map((w) => w[0])).toEqual([1, 2, 3, 4, 5]);
    expect(line.wire).toEqual(Array(5).fill(['request', 'reply']).flat());
  });

  it('retries after a timeout and gives up with NoReplyError after retries + 1 attempts', async () => {
    make();
    await flush();
    const reply = bus.request(readTransaction('io-1', 7, 'coil', 0, 1));
    const outcome = reply.catch((e) => e);
    await advance(500, 5);
    const error = await outcome;
    expect(error).toBeInstanceOf(NoReplyError);
    expect(error.reason).toBe('timeout');
    expect(error.message).toMatch(/device io-1 on bus-1 \(\/dev\/ttyMOCK0\), unit 7 read coil 0\.\.0: no reply within 100 ms/);
    expect(line.writes).toHaveLength(3);
    expect(await rejectedCount(kit.metrics, 'timeout')).toBe(3);
    expect(bus.health().detail).toContain('timeouts 3');
  });

  it('counts a bad CRC, retries and accepts the good answer that follows', async () => {
    make();
    await flush();
    let n = 0;
    line.answer = () => {
      const frame = slave.readRegistersReply(3, 3, [42]);
      if (n++ === 0) frame[frame.length - 1]! ^= 0x5a;
      return frame;
    };
    const reply = bus.request(readTransaction('io-3', 3, 'holding-register', 0, 1));
    await advance(20);
    await expect(reply).resolves.toEqual({ registers: [42] });
    expect(await rejectedCount(kit.metrics, 'crc-error')).toBe(1);
    expect(bus.health()).toMatchObject({ framesOk: 1, framesBad: 1 });
  });

  it('a truncated reply is reported as truncated-frame when the time is up', async () => {
    make({ retries: 0 });
    await flush();
    line.answer = () => slave.readRegistersReply(3, 3, [1, 2]).subarray(0, 4);
    const outcome = bus.request(readTransaction('io-3', 3, 'holding-register', 0, 2)).catch((e) => e);
    await advance(150, 5);
    expect(await outcome).toMatchObject({ reason: 'truncated-frame' });
    expect(await rejectedCount(kit.metrics, 'truncated-frame')).toBe(1);
  });

  it('counts bytes that arrive while nothing was asked', async () => {
    make();
    await flush();
    line.inject(Buffer.from([1, 2, 3]));
    await flush();
    expect(await rejectedCount(kit.metrics, 'unsolicited-bytes')).toBe(1);
  });

  it('raises RTS around each frame when direction is rts', async () => {
    make({ direction: 'rts' });
    await flush();
    line.answer = () => Buffer.from(writeCoilTransaction('x', 1, 0, true).request);
    const reply = bus.request(writeCoilTransaction('x', 1, 0, true));
    await advance(10);
    await expect(reply).resolves.toEqual({ written: true });
    expect(line.rtsLog).toEqual([true, false]);
  });

  it('a port that refuses the RTS ioctl (a pty) still works, says so once, and stops asking', async () => {
    line.refuseIoctl = true;
    make({ direction: 'rts' });
    await flush();
    line.answer = (req) => slave.readBitsReply(req[0]!, 1, [true]);
    for (let i = 0; i < 3; i++) {
      const reply = bus.request(readTransaction('x', 1, 'coil', 0, 1));
      await advance(10);
      await expect(reply).resolves.toEqual({ bits: [true] });
    }
    expect(bus.health().detail).toMatch(/RTS direction control refused/);
    expect(kit.logLines.filter((l) => l.includes('refuses RTS'))).toHaveLength(1);
  });

  it('when the port goes away: fails the queue, reports the loss, reopens with backoff and counts the reconnect', async () => {
    make();
    await flush();
    expect(connections).toEqual([[true, 'port open']]);
    const pending = bus.request(readTransaction('x', 1, 'coil', 0, 1)).catch((e) => e);
    await flush();
    line.unplug();
    await flush();
    expect(await pending).toBeInstanceOf(BusClosedError);
    expect(bus.isConnected).toBe(false);
    expect(connections[1]![0]).toBe(false);
    await expect(bus.request(readTransaction('x', 1, 'coil', 0, 1))).rejects.toBeInstanceOf(BusClosedError);
    expect(line.ports).toHaveLength(1);
    await advance(199, 199);
    expect(line.ports).toHaveLength(1); // backoff: not before reconnectMinMs
    await advance(1);
    await flush();
    expect(line.ports).toHaveLength(2);
    expect(bus.isConnected).toBe(true);
    expect(bus.health().reconnects).toBe(1);
    line.answer = () => slave.readBitsReply(1, 1, [false]);
    const after = bus.request(readTransaction('x', 1, 'coil', 0, 1));
    await advance(10);
    await expect(after).resolves.toEqual({ bits: [false] });
  });

  it('doubles the backoff while the port cannot be opened, up to reconnectMaxMs', async () => {
    const opens: number[] = [];
    const failing = (options: Parameters<typeof line.opener>[0]) => {
      opens.push(kit.clock.now());
      return line.opener({ ...options, path: '/dev/ttyMISSING' });
    };
    bus = new SerialBus({
      config: busConfig({ path: '/dev/ttyMISSING', reconnectMinMs: 100, reconnectMaxMs: 400 }),
      clock: kit.clock,
      metrics: kit.metrics,
      log: kit.log,
      openPort: failing,
      portExists: () => false,
    });
    bus.start();
    await flush();
    await advance(1600, 50);
    const gaps = opens.slice(1).map((t, i) => t - opens[i]!);
    expect(gaps.slice(0, 5)).toEqual([100, 200, 400, 400, 400]);
    expect(bus.health()).toMatchObject({ connected: false });
    expect(bus.health().detail).toMatch(/last error: cannot open \/dev\/ttyMISSING/);
    // Said once at warn level, then retried quietly.
    expect(kit.logLines.filter((l) => JSON.parse(l).level === 40 && l.includes('ttyMISSING'))).toHaveLength(1);
  });
});
