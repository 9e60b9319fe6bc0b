import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc16Modbus } from '../../../device-drivers/serial/crc16.ts';

const require = createRequire(import.meta.url);
// modbus-serial's bitwise CRC is an independent implementation to check our table against.
const referenceCrc16 = require('modbus-serial/utils/crc16.js') as (b: Buffer) => number;

describe('CRC-16/MODBUS', () => {
  it('gives the catalogue check value for "123456789"', () => {
    expect(crc16Modbus(Buffer.from('123456789'))).toBe(0x4b37);
  });

  it('matches the spec example frame 01 03 00 00 00 0A (CRC C5 CD on the wire)', () => {
    const crc = crc16Modbus(Buffer.from([0x01, 0x03, 0x00, 0x00, 0x00, 0x0a]));
    expect([crc & 0xff, crc >> 8]).toEqual([0xc5, 0xcd]);
  });

  it('agrees with modbus-serial on any bytes and respects start/end', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(20), (bytes, pad) => {
        const buf = Buffer.from(bytes);
        expect(crc16Modbus(buf)).toBe(referenceCrc16(buf));
        const padded = Buffer.concat([Buffer.alloc(pad, 0xaa), buf, Buffer.alloc(3, 0x55)]);
        expect(crc16Modbus(padded, pad, pad + buf.length)).toBe(referenceCrc16(buf));
      }),
    );
  });
});
