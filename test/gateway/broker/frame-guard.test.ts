import { describe, expect, it } from 'vitest';
import { MalformedLengthError, MqttFrameGuard, PacketTooLargeError } from '../../../gateway/broker/frame-guard.ts';

function run(limit: number, chunks: Buffer[]): Promise<{ out: Buffer; error: Error | null }> {
  return new Promise((resolve) => {
    const guard = new MqttFrameGuard(limit);
    const out: Buffer[] = [];
    guard.on('data', (d: Buffer) => out.push(d));
    guard.on('error', (error) => resolve({ out: Buffer.concat(out), error }));
    guard.on('end', () => resolve({ out: Buffer.concat(out), error: null }));
    for (const c of chunks) guard.write(c);
    guard.end();
  });
}

/** A PUBLISH fixed header with the given remaining length, then that many bytes. */
function packet(remaining: number): Buffer {
  const len: number[] = [];
  let x = remaining;
  do {
    let byte = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) byte |= 0x80;
    len.push(byte);
  } while (x > 0);
  return Buffer.concat([Buffer.from([0x30, ...len]), Buffer.alloc(remaining, 7)]);
}

describe('MqttFrameGuard', () => {
  it('passes packets within the limit through unchanged, however they are split', async () => {
    const stream = Buffer.concat([packet(10), packet(0), packet(300), packet(1000)]);
    const chunks = [stream.subarray(0, 1), stream.subarray(1, 5), stream.subarray(5, 400), stream.subarray(400)];
    const { out, error } = await run(1000, chunks);
    expect(error).toBeNull();
    expect(out.equals(stream)).toBe(true);
  });

  it('fails on a packet announcing more than the limit, before its body arrives', async () => {
    const header = packet(5000).subarray(0, 3);
    const { error } = await run(1000, [packet(10), header]);
    expect(error).toBeInstanceOf(PacketTooLargeError);
    expect((error as PacketTooLargeError).size).toBe(5000);
  });

  it('fails on a remaining length longer than four bytes', async () => {
    const { error } = await run(1000, [Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])]);
    expect(error).toBeInstanceOf(MalformedLengthError);
  });
});
