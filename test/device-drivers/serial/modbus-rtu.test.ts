import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeRead, encodeWriteCoil, expectedReplyLength, ModbusException, parseReply, slave, withCrc } from '../../../device-drivers/serial/modbus-rtu.ts';

describe('Modbus RTU codec', () => {
  it('encodes the spec read request (FC3, unit 1, 10 registers from 0)', () => {
    expect(encodeRead(1, 'holding-register', 0, 10).toString('hex')).toBe('01030000000ac5cd');
  });

  it('encodes FC5 with FF00 for on and 0000 for off', () => {
    expect(encodeWriteCoil(17, 0xac, true).subarray(0, 6).toString('hex')).toBe('110500acff00');
    expect(encodeWriteCoil(17, 0xac, false).subarray(0, 6).toString('hex')).toBe('110500ac0000');
  });

  it('refuses quantities the spec forbids', () => {
    expect(() => encodeRead(1, 'coil', 0, 2001)).toThrow(/cannot read 2001 coils/);
    expect(() => encodeRead(1, 'input-register', 0, 126)).toThrow(/1–125/);
    expect(() => encodeRead(1, 'input-register', 65_535, 2)).toThrow(/outside/);
  });

  it('decodes bits LSB first, as the spec example for FC1 (CD 6B 05 → 19 coils)', () => {
    const request = encodeRead(0x11, 'coil', 0x13, 19);
    const reply = withCrc([0x11, 0x01, 0x03, 0xcd, 0x6b, 0x05]);
    const result = parseReply(request, reply);
    expect(result.status).toBe('ok');
    const bits = (result as { value: { bits: boolean[] } }).value.bits.map((b) => (b ? 1 : 0)).join('');
    // 0xCD = 1100 1101 → coils 27..20 read 1,1,0,0,1,1,0,1 from bit 7 down; LSB first gives 10110011.
    expect(bits).toBe('1011001111010110101');
  });

  it('round-trips reads for any unit, table and values', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 247 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 64 }), fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 125 }), (unit, bits, regs) => {
        const bitReq = encodeRead(unit, 'discrete-input', 0, bits.length);
        expect(parseReply(bitReq, slave.readBitsReply(unit, 2, bits))).toEqual({ status: 'ok', value: { bits } });
        const regReq = encodeRead(unit, 'input-register', 7, regs.length);
        const reply = slave.readRegistersReply(unit, 4, regs);
        expect(reply.length).toBe(expectedReplyLength(regReq));
        expect(parseReply(regReq, reply)).toEqual({ status: 'ok', value: { registers: regs } });
      }),
    );
  });

  it('waits for more bytes while the reply is incomplete, at every split point', () => {
    const request = encodeRead(3, 'input-register', 0, 4);
    const reply = slave.readRegistersReply(3, 4, [1, 2, 3, 4]);
    for (let n = 0; n < reply.length; n++) expect(parseReply(request, reply.subarray(0, n)).status).toBe('incomplete');
    expect(parseReply(request, reply).status).toBe('ok');
  });

  it('turns an exception reply into a ModbusException naming the code', () => {
    const request = encodeRead(5, 'holding-register', 100, 2);
    const result = parseReply(request, slave.exceptionReply(5, 3, 2));
    expect(result.status).toBe('ok');
    const value = (result as { value: unknown }).value;
    expect(value).toBeInstanceOf(ModbusException);
    expect((value as ModbusException).message).toMatch(/exception 2 \(illegal data address\) from unit 5 to function 3/);
  });

  it('reports a bad CRC as crc-error, not as a value', () => {
    const request = encodeRead(2, 'coil', 0, 8);
    const reply = slave.readBitsReply(2, 1, [true, false, true, false, true, false, true, false]);
    reply[reply.length - 1]! ^= 0xff;
    expect(parseReply(request, reply)).toMatchObject({ status: 'bad', reason: 'crc-error' });
  });

  it('skips line noise before the reply', () => {
    const request = encodeRead(9, 'holding-register', 0, 1);
    const reply = slave.readRegistersReply(9, 3, [0x1234]);
    const noisy = Buffer.concat([Buffer.from([0x00, 0xff, 0x09, 0x55, 0x09]), reply]);
    expect(parseReply(request, noisy)).toEqual({ status: 'ok', value: { registers: [0x1234] } });
  });

  it('ignores a reply from another unit and explains leftovers when time is up', () => {
    const request = encodeRead(9, 'holding-register', 0, 1);
    const other = slave.readRegistersReply(8, 3, [1]);
    expect(parseReply(request, other).status).toBe('incomplete');
    expect(parseReply(request, other, true)).toMatchObject({ status: 'bad', reason: 'garbled-frame' });
    const cut = slave.readRegistersReply(9, 3, [1]).subarray(0, 4);
    expect(parseReply(request, cut, true)).toMatchObject({ status: 'bad', reason: 'truncated-frame' });
  });

  it('checks the write echo', () => {
    const request = encodeWriteCoil(4, 2, true);
    expect(parseReply(request, Buffer.from(request))).toEqual({ status: 'ok', value: { written: true } });
    expect(parseReply(request, encodeWriteCoil(4, 2, false))).toMatchObject({ status: 'bad', reason: 'unexpected-reply' });
  });
});
