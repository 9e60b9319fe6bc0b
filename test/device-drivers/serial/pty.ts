import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { CMD, encodeFrame, findFrame, type GgFrame } from '../../../device-drivers/serial/codecs/gg-frame.ts';
import { crc16Modbus } from '../../../device-drivers/serial/crc16.ts';
import { slave, withCrc } from '../../../device-drivers/serial/modbus-rtu.ts';
import { waitFor } from '../../helpers/net.ts';

/**
 * A pseudo-terminal pair made by socat (test-tooling.md §1): the gateway opens `gatewayPath`,
 * the simulated devices `devicePath`. stop() is the unplug: both links vanish; start() again
 * makes a new pair on the same link paths, with new pts numbers, like a replugged adapter.
 */
export class PtyPair {
  readonly gatewayPath: string;
  readonly devicePath: string;
  private proc: ChildProcess | null = null;

  constructor(dir: string, name = 'tty') {
    this.gatewayPath = join(dir, `${name}-gw`);
    this.devicePath = join(dir, `${name}-dev`);
  }

  async start(): Promise<void> {
    const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${this.gatewayPath}`, `pty,raw,echo=0,link=${this.devicePath}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.resume();
    this.proc = proc;
    await waitFor(() => existsSync(this.gatewayPath) && existsSync(this.devicePath), 'socat pty links', 10_000);
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await exited;
    await waitFor(() => !existsSync(this.gatewayPath) && !existsSync(this.devicePath), 'socat links removed', 10_000);
  }
}

export interface UnitState {
  coils: boolean[];
  discreteInputs: boolean[];
  inputRegisters: number[];
  holdingRegisters: number[];
  /** Answer reads beyond these lengths with exception 2 (illegal data address), as devices do. */
  coilWrites: { coil: number; on: boolean }[];
}

export interface ReaderScript {
  /** Events waiting in the reader, oldest first; dropped when a POLL acknowledges their seq. */
  queue: ({ kind: 'swipe'; seq: number; cardNo: string } | { kind: 'input'; seq: number; code: number })[];
  decisions: { granted: boolean; openMs?: number }[];
  polls: number;
}

/**
 * The devices on the far end of a pty: Modbus RTU slaves and GG-485 readers answering the
 * gateway's requests, with knobs for the faults a field bus produces.
 */
export class SimulatedLine {
  readonly units = new Map<number, UnitState>();
  readonly readers = new Map<number, ReaderScript>();
  /** Next replies get their last CRC byte flipped. */
  corruptNext = 0;
  /** Next replies are cut in half. */
  truncateNext = 0;
  /** Bytes sent before the next reply (line noise). */
  garbageBeforeNext: Buffer | null = null;
  /** Units that answer with this exception code to every request. */
  exceptionUnits = new Map<number, number>();
  silent = false;
  received = 0;
  private port: SerialPort | null = null;
  private buf = Buffer.alloc(0);

  constructor(private readonly path: string) {}

  unit(address: number, partial: Partial<UnitState> = {}): UnitState {
    const state: UnitState = { coils: [], discreteInputs: [], inputRegisters: [], holdingRegisters: [], coilWrites: [], ...partial };
    this.units.set(address, state);
    return state;
  }

  reader(address: number): ReaderScript {
    const script: ReaderScript = { queue: [], decisions: [], polls: 0 };
    this.readers.set(address, script);
    return script;
  }

  async open(): Promise<void> {
    const port = new SerialPort({ path: this.path, baudRate: 9600, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    port.on('data', (chunk: Buffer) => this.onData(chunk));
    port.on('error', () => {});
    this.port = port;
    this.buf = Buffer.alloc(0);
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = null;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  /** Raw bytes onto the line, e.g. random noise while nobody asked. */
  send(bytes: Buffer): void {
    this.port?.write(bytes);
  }

  private reply(frame: Buffer): void {
    if (this.silent) return;
    let out = frame;
    if (this.corruptNext > 0) {
      this.corruptNext--;
      out = Buffer.from(frame);
      out[out.length - 2]! ^= 0xff;
    } else if (this.truncateNext > 0) {
      this.truncateNext--;
      out = frame.subarray(0, Math.floor(frame.length / 2));
    }
    if (this.garbageBeforeNext) {
      out = Buffer.concat([this.garbageBeforeNext, out]);
      this.garbageBeforeNext = null;
    }
    this.port?.write(out);
  }

  private onData(chunk: Buffer): void {
    this.received += chunk.length;
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.buf.length === 0) return;
      if (this.buf[0] === 0x02) {
        const step = findFrame(this.buf, 0);
        if (step.kind === 'frame' && step.start === 0) {
          this.buf = this.buf.subarray(step.end);
          this.onReaderFrame(step.frame);
          continue;
        }
        if (step.kind === 'need-more' && step.start === 0) return;
      }
      if (this.buf.length < 8) return;
      const frame = this.buf.subarray(0, 8);
      if (frame.readUInt16LE(6) === crc16Modbus(frame, 0, 6)) {
        this.buf = this.buf.subarray(8);
        this.onModbus(Buffer.from(frame));
        continue;
      }
      this.buf = this.buf.subarray(1);
    }
  }

  private onModbus(req: Buffer): void {
    const unit = req[0]!;
    const fc = req[1]!;
    const state = this.units.get(unit);
    if (!state) return; // not on this line: silence, as on a real bus
    const exception = this.exceptionUnits.get(unit);
    if (exception !== undefined) return this.reply(slave.exceptionReply(unit, fc, exception));
    const start = req.readUInt16BE(2);
    const count = req.readUInt16BE(4);
    const table = fc === 1 ? state.coils : fc === 2 ? state.discreteInputs : fc === 3 ? state.holdingRegisters : fc === 4 ? state.inputRegisters : null;
    if (fc === 5) {
      const on = req.readUInt16BE(4) === 0xff00;
      if (start >= state.coils.length) return this.reply(slave.exceptionReply(unit, fc, 2));
      state.coils[start] = on;
      state.coilWrites.push({ coil: start, on });
      return this.reply(withCrc([...req.subarray(0, 6)]));
    }
    if (!table) return this.reply(slave.exceptionReply(unit, fc, 1));
    if (start + count > table.length) return this.reply(slave.exceptionReply(unit, fc, 2));
    const values = table.slice(start, start + count);
    if (fc === 1 || fc === 2) this.reply(slave.readBitsReply(unit, fc, values as boolean[]));
    else this.reply(slave.readRegistersReply(unit, fc as 3 | 4, values as number[]));
  }

  private onReaderFrame(frame: GgFrame): void {
    const script = this.readers.get(frame.address);
    if (!script) return;
    const a = frame.address;
    switch (frame.command) {
      case CMD.POLL: {
        script.polls++;
        if (frame.payload.length === 1 && script.queue[0]?.seq === frame.payload[0]) script.queue.shift();
        const next = script.queue[0];
        if (!next) return this.reply(encodeFrame(a, CMD.IDLE));
        if (next.kind === 'swipe') return this.reply(encodeFrame(a, CMD.SWIPE, Buffer.concat([Buffer.from([next.seq]), Buffer.from(next.cardNo, 'latin1')])));
        return this.reply(encodeFrame(a, CMD.INPUT, Uint8Array.of(next.seq, next.code)));
      }
      case CMD.GRANT:
        script.decisions.push({ granted: true, openMs: frame.payload.readUInt16BE(0) * 100 });
        return this.reply(encodeFrame(a, CMD.ACK));
      case CMD.DENY:
        script.decisions.push({ granted: false });
        return this.reply(encodeFrame(a, CMD.ACK));
      default:
        return this.reply(encodeFrame(a, CMD.NAK, Uint8Array.of(1)));
    }
  }
}
