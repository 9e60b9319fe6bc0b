import type { EventType } from '../../../gateway/core/model.ts';
import { crc16Modbus } from '../crc16.ts';
import { bad, INCOMPLETE, type FrameResult } from '../frame.ts';
import type { ReaderCodec, ReaderMessage } from './reader-codec.ts';

/**
 * GG-485, gridguard's card-reader frame (docs/drivers-serial.md has the full table):
 *
 *   STX 0x02 | ADDR | LEN | CMD | PAYLOAD (LEN bytes) | CRC16 lo | CRC16 hi | ETX 0x03
 *
 * CRC-16/MODBUS over ADDR..PAYLOAD. No byte stuffing: the length field frames the packet, and
 * STX, ETX and CRC together reject a false start, after which the decoder resyncs on the next STX.
 */
export const STX = 0x02;
export const ETX = 0x03;
export const MAX_PAYLOAD = 64;
export const OVERHEAD = 7;

export const CMD = {
  POLL: 0x10,
  GRANT: 0x11,
  DENY: 0x12,
  IDLE: 0x90,
  SWIPE: 0x91,
  INPUT: 0x92,
  ACK: 0x9a,
  NAK: 0x9f,
} as const;

/** Input codes of the INPUT reply and the canonical event each one becomes. */
export const INPUT_EVENTS: Record<number, EventType> = {
  0x01: 'door.opened',
  0x02: 'door.closed',
  0x03: 'door.exit-button',
  0x04: 'device.tamper',
  0x05: 'door.forced',
  0x06: 'door.held-open',
};

export interface GgFrame {
  address: number;
  command: number;
  payload: Buffer;
}

export function encodeFrame(address: number, command: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  if (payload.length > MAX_PAYLOAD) throw new RangeError(`payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  const frame = Buffer.alloc(payload.length + OVERHEAD);
  frame[0] = STX;
  frame[1] = address;
  frame[2] = payload.length;
  frame[3] = command;
  frame.set(payload, 4);
  frame.writeUInt16LE(crc16Modbus(frame, 1, 4 + payload.length), 4 + payload.length);
  frame[frame.length - 1] = ETX;
  return frame;
}

export type DecodeStep =
  | { kind: 'frame'; frame: GgFrame; start: number; end: number }
  | { kind: 'need-more'; start: number }
  | { kind: 'none' };

/**
 * Finds the first valid frame at or after `from`. Bytes that cannot start a valid frame are
 * skipped, so garbage, truncated frames and corrupt ones cost only themselves.
 */
export function findFrame(buf: Buffer, from = 0, onReject?: (reason: string, at: number) => void): DecodeStep {
  for (let i = buf.indexOf(STX, from); i >= 0; i = buf.indexOf(STX, i + 1)) {
    if (buf.length - i < 3) return { kind: 'need-more', start: i };
    const len = buf[i + 2]!;
    if (len > MAX_PAYLOAD) {
      onReject?.('bad-length', i);
      continue;
    }
    const end = i + len + OVERHEAD;
    if (buf.length < end) {
      // A stray STX in garbage looks like the start of a long frame; a complete valid frame
      // after it wins, so noise delays nothing. (Candidates waiting here are at most 71 bytes back.)
      const later = findFrame(buf, i + 1);
      return later.kind === 'frame' ? later : { kind: 'need-more', start: i };
    }
    if (buf[end - 1] !== ETX) {
      onReject?.('bad-end-byte', i);
      continue;
    }
    if (buf.readUInt16LE(end - 3) !== crc16Modbus(buf, i + 1, end - 3)) {
      onReject?.('bad-checksum', i);
      continue;
    }
    return { kind: 'frame', frame: { address: buf[i + 1]!, command: buf[i + 3]!, payload: buf.subarray(i + 4, end - 3) }, start: i, end };
  }
  return { kind: 'none' };
}

/**
 * A streaming decoder for readers that push frames (and for the benchmark): feed chunks, get
 * frames; rejected candidates are reported with their reason. Keeps at most one partial frame.
 */
export class GgFrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onReject: (reason: string) => void = () => {}) {}

  push(chunk: Buffer): GgFrame[] {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: GgFrame[] = [];
    let from = 0;
    for (;;) {
      const step = findFrame(buf, from, (reason) => this.onReject(reason));
      if (step.kind === 'frame') {
        // Copy: the payload must not pin or alias the caller's chunk.
        frames.push({ ...step.frame, payload: Buffer.from(step.frame.payload) });
        from = step.end;
        continue;
      }
      if (step.kind === 'need-more') {
        buf = buf.subarray(step.start);
        break;
      }
      buf = buf.subarray(buf.length);
      break;
    }
    this.pending = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
    return frames;
  }

  get buffered(): number {
    return this.pending.length;
  }
}

const CARD = /^[0-9A-Za-z]{1,32}$/;

function toMessage(frame: GgFrame): ReaderMessage | { error: string } {
  const p = frame.payload;
  switch (frame.command) {
    case CMD.IDLE:
      return { kind: 'idle' };
    case CMD.ACK:
      return { kind: 'ack' };
    case CMD.NAK:
      return { kind: 'nak', code: p[0] ?? 0 };
    case CMD.SWIPE: {
      if (p.length < 2) return { error: 'swipe without a card number' };
      const cardNo = p.subarray(1).toString('latin1');
      if (!CARD.test(cardNo)) return { error: `card number "${cardNo.slice(0, 40)}" is not 1–32 letters or digits` };
      return { kind: 'swipe', seq: p[0]!, cardNo };
    }
    case CMD.INPUT: {
      if (p.length !== 2) return { error: `input payload of ${p.length} bytes, expected 2` };
      const event = INPUT_EVENTS[p[1]!];
      if (!event) return { error: `unknown input code 0x${p[1]!.toString(16)}` };
      return { kind: 'input', seq: p[0]!, event };
    }
    default:
      return { error: `unknown reply command 0x${frame.command.toString(16)}` };
  }
}

export const ggFrameCodec: ReaderCodec = {
  name: 'gg-frame',
  poll(address, ackSeq) {
    return encodeFrame(address, CMD.POLL, ackSeq === null ? new Uint8Array(0) : Uint8Array.of(ackSeq));
  },
  grant(address, openMs) {
    const ds = Math.min(0xffff, Math.round(openMs / 100));
    return encodeFrame(address, CMD.GRANT, Uint8Array.of(ds >> 8, ds & 0xff));
  },
  deny(address) {
    return encodeFrame(address, CMD.DENY);
  },
  parseReply(address, received, final): FrameResult<ReaderMessage> {
    let from = 0;
    let rejected: string | null = null;
    for (;;) {
      const step = findFrame(received, from, (reason) => (rejected ??= reason));
      if (step.kind === 'frame') {
        // Another reader's frame (a collision or a late reply) is not ours: keep looking.
        if (step.frame.address !== address) {
          from = step.end;
          rejected ??= 'wrong-address';
          continue;
        }
        const message = toMessage(step.frame);
        if ('error' in message) return bad('invalid-payload', `reader ${address}: ${message.error}`);
        return { status: 'ok', value: message };
      }
      // A complete frame with a bad checksum and nothing after it was our reply, damaged: no need to wait.
      if (step.kind === 'none' && rejected === 'bad-checksum') return bad('crc-error', `reply from reader ${address} failed its checksum`);
      if (!final) return INCOMPLETE;
      if (step.kind === 'need-more') return bad('truncated-frame', `reply from reader ${address} cut short after ${received.length - step.start} bytes`);
      if (rejected === 'bad-checksum') return bad('crc-error', `reply from reader ${address} failed its checksum`);
      return bad('garbled-frame', `${received.length} bytes without a valid frame from reader ${address}${rejected ? ` (${rejected})` : ''}`);
    }
  },
};
