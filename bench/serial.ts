/**
 * Serial benchmark: frame decode throughput, and the Modbus poll cycle for 32 IO modules on one
 * bus compared with what the wire itself allows at 9600 and 115200 baud.
 *
 *   npx tsx bench/serial.ts
 *
 * Baselines are measured in the same run: modbus-serial's bitwise CRC over the same frames (the
 * least any decoder must do), and modbus-serial's own RTU master polling the same 32 slaves on
 * the same pty. A pty has no baud timing, so the measured cycle is the gateway's own cost
 * (t3.5 waits included); the wire figure is what a real line adds on top.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { DeviceSchema } from '../config/schema/devices.ts';
import { SerialBusSchema } from '../config/schema/serial.ts';
import type { DriverContext } from '../device-drivers/driver.ts';
import { CMD, encodeFrame, GgFrameDecoder } from '../device-drivers/serial/codecs/gg-frame.ts';
import { ModbusDevice } from '../device-drivers/serial/modbus-device.ts';
import { encodeRead, parseReply, slave } from '../device-drivers/serial/modbus-rtu.ts';
import { bitsPerChar, interFrameGapMs, SerialBus, wireTimeMs } from '../device-drivers/serial/serial-bus.ts';
import { systemClock } from '../gateway/core/clock.ts';
import { Metrics } from '../gateway/core/metrics.ts';
import { hasCommand } from '../test/helpers/tools.ts';
import { PtyPair, SimulatedLine } from '../test/device-drivers/serial/pty.ts';

const require = createRequire(import.meta.url);
const referenceCrc16 = require('modbus-serial/utils/crc16.js') as (b: Buffer) => number;
const ModbusRTU = require('modbus-serial') as new () => {
  connectRTUBuffered(path: string, options: object): Promise<void>;
  setID(id: number): void;
  setTimeout(ms: number): void;
  readDiscreteInputs(addr: number, n: number): Promise<unknown>;
  close(cb: () => void): void;
};

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function timeIt(fn: () => number): { ms: number; count: number } {
  const start = process.hrtime.bigint();
  const count = fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, count };
}

function decodeBench(): void {
  console.log('## Frame decode throughput (single core, in memory)\n');
  const frames = 200_000;
  const parts: Buffer[] = [];
  for (let i = 0; i < frames; i++) parts.push(encodeFrame(i & 0xff, CMD.SWIPE, Buffer.concat([Buffer.from([i & 0xff]), Buffer.from(String(10_000_000 + i))])));
  const stream = Buffer.concat(parts);
  const chunks: Buffer[] = [];
  for (let at = 0; at < stream.length; at += 64) chunks.push(stream.subarray(at, at + 64)); // a USB adapter delivers small reads

  // Warm up the JIT for both paths.
  for (let r = 0; r < 2; r++) {
    const d = new GgFrameDecoder();
    for (const c of chunks.slice(0, 20_000)) d.push(c);
    for (const p of parts.slice(0, 20_000)) referenceCrc16(p.subarray(1, p.length - 3));
  }
  const ours = timeIt(() => {
    const d = new GgFrameDecoder();
    let n = 0;
    for (const c of chunks) n += d.push(c).length;
    return n;
  });
  const base = timeIt(() => {
    let n = 0;
    for (const p of parts) if (referenceCrc16(p.subarray(1, p.length - 3)) >= 0) n++;
    return n;
  });
  if (ours.count !== frames) throw new Error(`decoded ${ours.count} of ${frames}`);

  const request = encodeRead(1, 'discrete-input', 0, 8);
  const reply = slave.readBitsReply(1, 2, [true, false, true, false, true, false, true, false]);
  const modbusN = 500_000;
  for (let i = 0; i < 50_000; i++) parseReply(request, reply);
  const modbus = timeIt(() => {
    let n = 0;
    for (let i = 0; i < modbusN; i++) if (parseReply(request, reply).status === 'ok') n++;
    return n;
  });
  const modbusBase = timeIt(() => {
    let n = 0;
    for (let i = 0; i < modbusN; i++) if (referenceCrc16(reply.subarray(0, reply.length - 2)) === reply.readUInt16LE(reply.length - 2)) n++;
    return n;
  });

  console.log('| decoder | frames | frames/s | baseline (modbus-serial bitwise CRC only) frames/s | ratio |');
  console.log('|---|---|---|---|---|');
  console.log(`| GG-485 stream decoder (${parts[0]!.length}-byte swipes, 64-byte chunks) | ${fmt(frames)} | ${fmt((frames / ours.ms) * 1000)} | ${fmt((frames / base.ms) * 1000)} | ${fmt(base.ms / ours.ms, 2)}× |`);
  console.log(`| Modbus RTU FC2 reply parse (6 bytes) | ${fmt(modbusN)} | ${fmt((modbusN / modbus.ms) * 1000)} | ${fmt((modbusN / modbusBase.ms) * 1000)} | ${fmt(modbusBase.ms / modbus.ms, 2)}× |`);
  console.log('\n(ratio = our frames/s ÷ baseline frames/s: full decode with a table-driven CRC against a bare bitwise CRC of the same bytes)\n');
}

/** Bits and time one FC2 exchange takes on the wire: request, t3.5, reply, t3.5. */
function wireLimit(baudRate: number, requestBytes: number, replyBytes: number) {
  const c = { path: '', baudRate, dataBits: 8 as const, parity: 'none' as const, stopBits: 1 as const };
  const gap = interFrameGapMs(c);
  const perExchange = wireTimeMs(requestBytes + replyBytes, c) + 2 * gap;
  return { bits: (requestBytes + replyBytes) * bitsPerChar(c), gap, perExchange };
}

async function pollBench(): Promise<void> {
  console.log('## Modbus poll cycle: 32 IO modules on one bus (FC2, 8 discrete inputs each)\n');
  if (!hasCommand('socat')) {
    console.log('socat not found (apt-get install socat): poll cycle skipped\n');
    return;
  }
  const units = 32;
  const cycles = 15;
  const dir = mkdtempSync(join(tmpdir(), 'gg-bench-serial-'));
  const rows: string[] = [];
  try {
    for (const baudRate of [9600, 115_200]) {
      const pty = new PtyPair(dir, `b${baudRate}`);
      await pty.start();
      const line = new SimulatedLine(pty.devicePath);
      for (let u = 1; u <= units; u++) line.unit(u, { discreteInputs: Array(8).fill(false) });
      await line.open();
      /** Polls all 32 devices `cycles` times; interFrameMs 0 removes the t3.5 wait to show the software cost alone. */
      const ourRun = async (interFrameMs?: number): Promise<number[]> => {
        const busConfig = SerialBusSchema.parse({ id: 'bench', path: pty.gatewayPath, baudRate, timeoutMs: 500, retries: 0, ...(interFrameMs === undefined ? {} : { interFrameMs }) });
        const metrics = new Metrics();
        const log = pino({ level: 'silent' });
        const ctx: DriverContext = { devices: [], ingest: async () => ({}) as never, deviceSeen: async () => {}, deviceOffline: () => {}, clock: systemClock, metrics, log };
        const bus = new SerialBus({ config: busConfig, clock: systemClock, metrics, log });
        bus.start();
        while (!bus.isConnected) await new Promise((r) => setTimeout(r, 10));
        const devices = Array.from({ length: units }, (_, i) =>
          new ModbusDevice({
            device: DeviceSchema.parse({ id: `io-${i + 1}`, kind: 'sensor', transport: 'serial', serial: { bus: 'bench', protocol: 'modbus-rtu', address: i + 1, points: Array.from({ length: 8 }, (_, a) => ({ table: 'discrete-input', address: a, on: 'door.opened' })) } }),
            busConfig,
            bus,
            ctx,
          }),
        );
        const times: number[] = [];
        for (let c = 0; c < cycles + 2; c++) {
          const start = process.hrtime.bigint();
          await Promise.all(devices.map((d) => d.pollNow()));
          if (c >= 2) times.push(Number(process.hrtime.bigint() - start) / 1e6);
        }
        if (bus.health().framesOk < units * cycles) throw new Error(`only ${bus.health().framesOk} good frames`);
        await bus.stop();
        return times;
      };
      const ourCycles = await ourRun();
      const softwareOnly = await ourRun(0);

      // Same-run baseline: modbus-serial's master on the same pty and slaves.
      const client = new ModbusRTU();
      await client.connectRTUBuffered(pty.gatewayPath, { baudRate });
      client.setTimeout(500);
      const theirCycles: number[] = [];
      for (let c = 0; c < cycles + 2; c++) {
        const start = process.hrtime.bigint();
        for (let u = 1; u <= units; u++) {
          client.setID(u);
          await client.readDiscreteInputs(0, 8);
        }
        if (c >= 2) theirCycles.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
      await new Promise<void>((r) => client.close(() => r()));
      await line.close();
      await pty.stop();

      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const wire = wireLimit(baudRate, 8, 6);
      const wireCycle = wire.perExchange * units;
      const ours = median(ourCycles);
      const theirs = median(theirCycles);
      const bare = median(softwareOnly);
      rows.push(
        `| ${fmt(baudRate)} | ${wire.bits} | ${fmt(wire.gap, 2)} | ${fmt(wireCycle, 1)} | ${fmt(ours, 1)} | ${fmt(bare, 1)} | ${fmt(theirs, 1)} | ${fmt(ours / wireCycle, 2)} | ${fmt(bare / theirs, 2)} |`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    '| baud | bits per exchange (8 + 6 bytes, 8N1) | t3.5 ms | wire limit per cycle ms (32 × (bits/baud + 2 × t3.5)) | gridguard on pty ms (median) | gridguard without t3.5 ms | modbus-serial on pty ms (median) | gridguard / wire | gridguard without t3.5 / modbus-serial |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
  console.log(
    '\nA pty moves bytes instantly: "on pty" is the software cost of a cycle (our t3.5 waits included, modbus-serial waits none). ' +
      'On a real line a cycle takes about the wire limit plus the software cost minus the waits already counted.\n',
  );
}

console.log(`# bench/serial.ts — ${new Date().toISOString()}, Node ${process.version}\n`);
decodeBench();
await pollBench();
