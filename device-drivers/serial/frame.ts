/**
 * What a codec says about the bytes received so far for one request: wait for more, a valid
 * reply, or a bad one (bad CRC, wrong length, garbage) that the bus counts and may retry.
 */
export type FrameResult<T> =
  | { status: 'incomplete' }
  | { status: 'ok'; value: T }
  | { status: 'bad'; reason: string; message: string };

export const INCOMPLETE = { status: 'incomplete' } as const;

export function bad(reason: string, message: string): { status: 'bad'; reason: string; message: string } {
  return { status: 'bad', reason, message };
}

/** One request/reply exchange on a half-duplex bus. */
export interface BusTransaction<T> {
  /** Device the exchange is for; errors and counters name it. */
  deviceId: string;
  /** Human description for logs, e.g. "read discrete-input 0..3". */
  label: string;
  request: Uint8Array;
  /** Parses everything received since the request was sent. */
  parse(received: Buffer): FrameResult<T>;
  /** Explains bytes left without a valid reply when the time ran out (bad CRC, cut short, garbage). */
  onTimeout?(received: Buffer): FrameResult<T>;
}

export const hex = (bytes: Uint8Array, max = 32): string =>
  Buffer.from(bytes.subarray(0, max)).toString('hex').replace(/(..)(?=.)/g, '$1 ') + (bytes.length > max ? ` … (${bytes.length} bytes)` : '');
