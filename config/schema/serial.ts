import { z } from 'zod';
import { Id } from './common.ts';

/** An RS-485 bus: one serial port shared by several devices at different addresses. */
export const SerialBusSchema = z
  .object({
    id: Id,
    path: z.string().min(1).describe('Serial device path, e.g. /dev/ttyUSB0 or /dev/serial/by-id/…'),
    baudRate: z.number().int().positive().default(9600),
    dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
    parity: z.enum(['none', 'even', 'odd']).default('none'),
    stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
    timeoutMs: z.number().int().positive().default(300).describe('How long to wait for a reply'),
    retries: z.number().int().min(0).max(5).default(2),
  })
  .strict();

/** How a device on a serial bus is reached. Filled in by the serial driver's issue. */
export const SerialDeviceSchema = z
  .object({
    bus: Id.describe('id of a serialBuses entry'),
    address: z.number().int().min(0).max(255).describe('Modbus unit id or reader address on the bus'),
    protocol: z.string().min(1).describe('Codec name, e.g. modbus-rtu or gg-frame'),
  })
  .passthrough();

export type SerialBusConfig = z.infer<typeof SerialBusSchema>;
export type SerialDeviceConfig = z.infer<typeof SerialDeviceSchema>;
