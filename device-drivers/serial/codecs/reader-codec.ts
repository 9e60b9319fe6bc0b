import type { EventType } from '../../../gateway/core/model.ts';
import type { FrameResult } from '../frame.ts';

/** What a card reader reports when polled. */
export type ReaderMessage =
  | { kind: 'idle' }
  | { kind: 'swipe'; seq: number; cardNo: string }
  | { kind: 'input'; seq: number; event: EventType }
  | { kind: 'ack' }
  | { kind: 'nak'; code: number };

/**
 * A card-reader / access-controller protocol on a polled RS-485 bus. The driver owns timing,
 * retries and decisions; a codec only turns intents into bytes and bytes into messages, so a
 * new vendor protocol is one file in this folder (plus its name in READER_PROTOCOLS).
 */
export interface ReaderCodec {
  readonly name: string;
  /** Asks the reader for its oldest unreported event; `ackSeq` confirms the previous one is stored. */
  poll(address: number, ackSeq: number | null): Uint8Array;
  /** Releases the door for `openMs` and signals "granted" (green LED, beep). */
  grant(address: number, openMs: number): Uint8Array;
  /** Signals "denied" (red LED, long beep). */
  deny(address: number): Uint8Array;
  /** Parses the reply from `address` in the bytes received since the request; `final` once the time is up. */
  parseReply(address: number, received: Buffer, final: boolean): FrameResult<ReaderMessage>;
}
