import { crc16Modbus } from './crc16.ts';
import { bad, INCOMPLETE, type BusTransaction, type FrameResult } from './frame.ts';

/**
 * Modbus RTU master codec (Modbus over Serial Line v1.02, Modbus Application Protocol v1.1b3):
 * FC 1, 2, 3, 4 reads and FC 5 single-coil writes, which is all an IO module on an access door
 * needs. Replies are delimited by their expected length, not by t3.5 silence: a user-space
 * process on a shared 2-core box cannot see 1.75 ms gaps reliably, and the request tells us
 * exactly how long the answer must be.
 */
export type ModbusTable = 'coil' | 'discrete-input' | 'input-register' | 'holding-register';

export const READ_FUNCTION: Record<ModbusTable, number> = { coil: 0x01, 'discrete-input': 0x02, 'holding-register': 0x03, 'input-register': 0x04 };
export const WRITE_SINGLE_COIL = 0x05;

/** Exception codes, Modbus Application Protocol §7. */
export const EXCEPTION_NAMES: Record<number, string> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target failed to respond',
};

/** A well-formed exception reply: the device understood us and refused. Never retried. */
export class ModbusException extends Error {
  constructor(
    readonly unit: number,
    readonly functionCode: number,
    readonly code: number,
  ) {
    super(`Modbus exception ${code} (${EXCEPTION_NAMES[code] ?? 'unknown'}) from unit ${unit} to function ${functionCode}`);
  }
}

/** Largest quantities a single request may ask for (spec limits, so a reply fits in 256 bytes). */
export const MAX_BITS = 2000;
export const MAX_REGISTERS = 125;

export function withCrc(body: number[]): Buffer {
  const frame = Buffer.alloc(body.length + 2);
  frame.set(body);
  frame.writeUInt16LE(crc16Modbus(frame, 0, body.length), body.length);
  return frame;
}

export function encodeRead(unit: number, table: ModbusTable, start: number, count: number): Buffer {
  const max = table === 'coil' || table === 'discrete-input' ? MAX_BITS : MAX_REGISTERS;
  if (count < 1 || count > max) throw new RangeError(`cannot read ${count} ${table}s in one request (1–${max})`);
  if (start < 0 || start + count > 0x10000) throw new RangeError(`${table} range ${start}..${start + count - 1} is outside 0..65535`);
  return withCrc([unit, READ_FUNCTION[table], start >> 8, start & 0xff, count >> 8, count & 0xff]);
}

export function encodeWriteCoil(unit: number, coil: number, on: boolean): Buffer {
  return withCrc([unit, WRITE_SINGLE_COIL, coil >> 8, coil & 0xff, on ? 0xff : 0x00, 0x00]);
}

/** Values of a read reply: one boolean per bit, or one unsigned 16-bit value per register. */
export type ReadValues = { bits: boolean[] } | { registers: number[] };

/**
 * Parses the reply to `request` from the bytes received so far. Garbage before the reply (line
 * noise on RS-485 at power-up is common) is skipped: a candidate frame starts at our unit id
 * followed by our function code or its exception bit, and only a matching CRC accepts it.
 */
export function parseReply(request: Uint8Array, received: Buffer, final = false): FrameResult<ReadValues | { written: true } | ModbusException> {
  const unit = request[0]!;
  const fc = request[1]!;
  const expected = expectedReplyLength(request);
  let waiting = false;
  let crcFailure: string | null = null;
  for (let i = 0; i < received.length; i++) {
    if (received[i] !== unit) continue;
    if (i + 1 >= received.length) {
      waiting = true;
      break;
    }
    const f = received[i + 1]!;
    if (f !== fc && f !== (fc | 0x80)) continue;
    const length = f === fc ? expected : 5;
    if (received.length - i < length) {
      waiting = true;
      continue;
    }
    const crc = received.readUInt16LE(i + length - 2);
    const computed = crc16Modbus(received, i, i + length - 2);
    if (crc !== computed) {
      crcFailure ??= `CRC ${hex16(crc)} ≠ computed ${hex16(computed)}`;
      continue;
    }
    if (f !== fc) return { status: 'ok', value: new ModbusException(unit, fc, received[i + 2]!) };
    return decodeBody(request, received.subarray(i, i + length));
  }
  // A frame that may still be arriving wins over an earlier corrupt one; the bus timeout ends the wait.
  if (waiting && !final) return INCOMPLETE;
  if (crcFailure) return bad('crc-error', crcFailure);
  if (!final) return INCOMPLETE;
  return waiting
    ? bad('truncated-frame', `reply from unit ${unit} cut short after ${received.length} bytes`)
    : bad('garbled-frame', `${received.length} bytes without a frame from unit ${unit}`);
}

const hex16 = (n: number) => n.toString(16).padStart(4, '0');

export function expectedReplyLength(request: Uint8Array): number {
  const fc = request[1]!;
  const count = (request[4]! << 8) | request[5]!;
  switch (fc) {
    case 0x01:
    case 0x02:
      return 5 + Math.ceil(count / 8);
    case 0x03:
    case 0x04:
      return 5 + count * 2;
    case WRITE_SINGLE_COIL:
      return 8;
    default:
      throw new RangeError(`function ${fc} is not supported`);
  }
}

function decodeBody(request: Uint8Array, frame: Buffer): FrameResult<ReadValues | { written: true }> {
  const fc = request[1]!;
  const count = (request[4]! << 8) | request[5]!;
  if (fc === WRITE_SINGLE_COIL) {
    if (!frame.subarray(0, 6).equals(Buffer.from(request.subarray(0, 6)))) return bad('unexpected-reply', 'write echo differs from the request');
    return { status: 'ok', value: { written: true } };
  }
  const byteCount = frame[2]!;
  if (byteCount !== frame.length - 5) return bad('unexpected-reply', `byte count ${byteCount} does not match ${count} requested points`);
  if (fc === 0x01 || fc === 0x02) {
    const bits: boolean[] = [];
    for (let n = 0; n < count; n++) bits.push(((frame[3 + (n >> 3)]! >> (n & 7)) & 1) === 1);
    return { status: 'ok', value: { bits } };
  }
  const registers: number[] = [];
  for (let n = 0; n < count; n++) registers.push(frame.readUInt16BE(3 + n * 2));
  return { status: 'ok', value: { registers } };
}

export function readTransaction(deviceId: string, unit: number, table: ModbusTable, start: number, count: number): BusTransaction<ReadValues | ModbusException> {
  const request = encodeRead(unit, table, start, count);
  return {
    deviceId,
    label: `unit ${unit} read ${table} ${start}..${start + count - 1}`,
    request,
    parse: (received) => parseReply(request, received) as FrameResult<ReadValues | ModbusException>,
    onTimeout: (received) => parseReply(request, received, true) as FrameResult<never>,
  };
}

export function writeCoilTransaction(deviceId: string, unit: number, coil: number, on: boolean): BusTransaction<{ written: true } | ModbusException> {
  const request = encodeWriteCoil(unit, coil, on);
  return {
    deviceId,
    label: `unit ${unit} write coil ${coil} ${on ? 'on' : 'off'}`,
    request,
    parse: (received) => parseReply(request, received) as FrameResult<{ written: true } | ModbusException>,
    onTimeout: (received) => parseReply(request, received, true) as FrameResult<never>,
  };
}

/**
 * The slave side, for tests and the benchmark: builds replies exactly as a device would.
 * Kept here so both ends of the codec are checked against each other and against modbus-serial.
 */
export const slave = {
  readBitsReply(unit: number, fc: 1 | 2, bits: boolean[]): Buffer {
    const bytes = new Array<number>(Math.ceil(bits.length / 8)).fill(0);
    bits.forEach((b, n) => {
      if (b) bytes[n >> 3]! |= 1 << (n & 7);
    });
    return withCrc([unit, fc, bytes.length, ...bytes]);
  },
  readRegistersReply(unit: number, fc: 3 | 4, registers: number[]): Buffer {
    return withCrc([unit, fc, registers.length * 2, ...registers.flatMap((r) => [(r >> 8) & 0xff, r & 0xff])]);
  },
  exceptionReply(unit: number, fc: number, code: number): Buffer {
    return withCrc([unit, fc | 0x80, code]);
  },
};
