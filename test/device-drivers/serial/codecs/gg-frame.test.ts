import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CMD, encodeFrame, ETX, findFrame, GgFrameDecoder, ggFrameCodec, STX } from '../../../../device-drivers/serial/codecs/gg-frame.ts';

const swipe = (address: number, seq: number, card: string) => encodeFrame(address, CMD.SWIPE, Buffer.concat([Buffer.from([seq]), Buffer.from(card, 'latin1')]));

describe('GG-485 frame codec', () => {
  it('lays out STX, address, length, command, payload, CRC little-endian, ETX', () => {
    const frame = encodeFrame(0x05, CMD.POLL, Uint8Array.of(0x07));
    expect(frame[0]).toBe(STX);
    expect([...frame.subarray(1, 5)]).toEqual([0x05, 0x01, 0x10, 0x07]);
    expect(frame[frame.length - 1]).toBe(ETX);
    expect(frame.length).toBe(8);
    // The worked examples of docs/drivers-serial.md, so that a vendor can check theirs against ours.
    expect(Buffer.from(ggFrameCodec.poll(1, null)).toString('hex')).toBe('0201001021cc03');
    expect(Buffer.from(ggFrameCodec.poll(1, 7)).toString('hex')).toBe('02010110071c1a03');
    expect(Buffer.from(ggFrameCodec.grant(1, 3000)).toString('hex')).toBe('02010211001ec87503');
    expect(Buffer.from(ggFrameCodec.deny(1)).toString('hex')).toBe('02010012a00d03');
    expect(swipe(1, 7, '1001').toString('hex')).toBe('020105910731303031a6a103');
  });

  it('parses a swipe, an input and idle replies from the polled address', () => {
    expect(ggFrameCodec.parseReply(3, swipe(3, 9, '6666'), false)).toEqual({ status: 'ok', value: { kind: 'swipe', seq: 9, cardNo: '6666' } });
    expect(ggFrameCodec.parseReply(3, encodeFrame(3, CMD.INPUT, Uint8Array.of(1, 0x04)), false)).toEqual({ status: 'ok', value: { kind: 'input', seq: 1, event: 'device.tamper' } });
    expect(ggFrameCodec.parseReply(3, encodeFrame(3, CMD.IDLE), false)).toEqual({ status: 'ok', value: { kind: 'idle' } });
  });

  it('skips a frame from another address and garbage, then finds ours', () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0x02, 0x99, 0x03]), swipe(4, 1, '1'), swipe(3, 2, '1001')]);
    expect(ggFrameCodec.parseReply(3, bytes, false)).toEqual({ status: 'ok', value: { kind: 'swipe', seq: 2, cardNo: '1001' } });
  });

  it('says crc-error for a damaged reply at once, truncated-frame and garbled-frame only when time is up', () => {
    // seq 7, not 2: a payload byte equal to STX is a candidate start the decoder must wait out.
    const damaged = swipe(3, 7, '1001');
    damaged[6]! ^= 0x01;
    expect(ggFrameCodec.parseReply(3, damaged, false)).toMatchObject({ status: 'bad', reason: 'crc-error' });
    const cut = swipe(3, 2, '1001').subarray(0, 6);
    expect(ggFrameCodec.parseReply(3, cut, false).status).toBe('incomplete');
    expect(ggFrameCodec.parseReply(3, cut, true)).toMatchObject({ status: 'bad', reason: 'truncated-frame' });
    expect(ggFrameCodec.parseReply(3, Buffer.from('hello'), false).status).toBe('incomplete');
    expect(ggFrameCodec.parseReply(3, Buffer.from('hello'), true)).toMatchObject({ status: 'bad', reason: 'garbled-frame' });
  });

  it('refuses payloads that break the protocol with invalid-payload', () => {
    expect(ggFrameCodec.parseReply(3, encodeFrame(3, CMD.SWIPE, Buffer.from([1, 0x20, 0x41])), false)).toMatchObject({ status: 'bad', reason: 'invalid-payload' });
    expect(ggFrameCodec.parseReply(3, encodeFrame(3, CMD.INPUT, Uint8Array.of(1, 0x77)), false)).toMatchObject({ status: 'bad', reason: 'invalid-payload', message: /unknown input code 0x77/ });
    expect(ggFrameCodec.parseReply(3, encodeFrame(3, 0x55), false)).toMatchObject({ status: 'bad', reason: 'invalid-payload' });
  });

  it('streaming: recovers every valid frame from any mix of garbage, cut frames and chunking', () => {
    const frameArb = fc.record({ address: fc.nat(255), command: fc.nat(255), payload: fc.uint8Array({ maxLength: 64 }) });
    const pieceArb = fc.oneof(
      frameArb.map((f) => ({ kind: 'frame' as const, f })),
      fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 20 }), fc.constant(Uint8Array.of(STX, 0x01, 0x40)), fc.constant(Uint8Array.of(STX))).map((g) => ({ kind: 'garbage' as const, g })),
    );
    fc.assert(
      fc.property(fc.array(pieceArb, { maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }), (pieces, cuts) => {
        const parts: Buffer[] = [];
        const sent: string[] = [];
        for (const p of pieces) {
          if (p.kind === 'frame') {
            parts.push(encodeFrame(p.f.address, p.f.command, p.f.payload));
            sent.push(`${p.f.address}/${p.f.command}/${Buffer.from(p.f.payload).toString('hex')}`);
          } else {
            parts.push(Buffer.from(p.g));
          }
        }
        const stream = Buffer.concat(parts);
        const decoder = new GgFrameDecoder();
        const got: string[] = [];
        let at = 0;
        let c = 0;
        while (at < stream.length) {
          const n = cuts[c++ % cuts.length]!;
          for (const f of decoder.push(stream.subarray(at, at + n))) got.push(`${f.address}/${f.command}/${f.payload.toString('hex')}`);
          at += n;
        }
        expect(got).toEqual(sent);
      }),
      { numRuns: Number(process.env.GG_FUZZ_RUNS ?? 200) },
    );
  });

  it('streaming: a cut frame followed by a whole one loses only the cut one', () => {
    const rejects: string[] = [];
    const decoder = new GgFrameDecoder((r) => rejects.push(r));
    const whole = swipe(1, 5, '1002');
    const cut = swipe(1, 4, '1001').subarray(0, 7);
    const frames = decoder.push(Buffer.concat([cut, whole]));
    expect(frames.map((f) => f.payload.subarray(1).toString())).toEqual(['1002']);
    expect(rejects.length).toBeGreaterThan(0);
    expect(decoder.buffered).toBe(0);
  });

  it('findFrame reports why candidates were rejected', () => {
    const reasons: string[] = [];
    const bad = swipe(1, 1, '1');
    bad[bad.length - 1] = 0x00;
    findFrame(Buffer.concat([Buffer.from([STX, 0x01, 200]), bad]), 0, (r) => reasons.push(r));
    expect(reasons).toEqual(expect.arrayContaining(['bad-length', 'bad-end-byte']));
  });
});
