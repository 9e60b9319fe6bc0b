import { z } from 'zod';
import { EVENT_TYPES, SEVERITIES } from '../../gateway/core/model.ts';
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
    pollIntervalMs: z.number().int().min(20).max(3_600_000).default(500).describe('Default poll interval of the devices on this bus'),
    interFrameMs: z
      .number()
      .min(0)
      .max(1000)
      .optional()
      .describe('Silence between frames; default t3.5 from the baud rate (1.75 ms above 19200 baud, Modbus over serial line §2.5.1.1)'),
    direction: z
      .enum(['auto', 'rts'])
      .default('auto')
      .describe('RS-485 transmit enable: auto (the adapter switches itself) or rts (RTS high while sending)'),
    reconnectMinMs: z.number().int().min(10).default(500).describe('First retry after the port disappears'),
    reconnectMaxMs: z.number().int().min(100).default(30_000).describe('Longest pause between reopen attempts'),
    offlineAfterFailures: z.number().int().min(1).max(100).default(3).describe('Polls in a row without a valid answer before a device counts as offline'),
  })
  .strict();

const EventType = z.enum(EVENT_TYPES);

/** Card-reader codecs in device-drivers/serial/codecs/; a new vendor protocol adds its file and its name here. */
export const READER_PROTOCOLS = ['gg-frame'] as const;

/** One Modbus point whose changes become events (door contact, exit button, smoke relay, tamper). */
export const ModbusPointSchema = z
  .object({
    name: z.string().min(1).max(64).optional().describe('Label in logs and event payloads, e.g. "door contact"'),
    table: z.enum(['coil', 'discrete-input', 'input-register', 'holding-register']),
    address: z.number().int().min(0).max(65_535).describe('Zero-based point address (the PDU address, not 1xxxx/3xxxx numbering)'),
    invert: z.boolean().default(false).describe('Active when the bit is 0 (normally-closed contacts)'),
    above: z.number().int().optional().describe('Registers: active when the value is above this'),
    on: EventType.optional().describe('Event when the point becomes active'),
    off: EventType.optional().describe('Event when the point becomes inactive'),
    reportInitial: z.boolean().default(false).describe('Also emit the event for the state read at the first poll'),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (!p.on && !p.off) ctx.addIssue({ code: 'custom', path: ['on'], message: 'a point needs an "on" or "off" event' });
    if ((p.table === 'input-register' || p.table === 'holding-register') && p.above === undefined)
      ctx.addIssue({ code: 'custom', path: ['above'], message: 'a register point needs "above" (its alarm threshold)' });
  });

const CoilRef = z.number().int().min(0).max(65_535);

/** Coils the gateway writes: door strike, sound-and-light alarm, spare relays. */
export const ModbusOutputsSchema = z
  .object({
    doorStrike: z
      .object({ coil: CoilRef, pulseMs: z.number().int().min(50).max(60_000).default(3_000) })
      .strict()
      .optional()
      .describe('door.open pulses this coil'),
    siren: z.object({ coil: CoilRef }).strict().optional().describe('alarm.on / alarm.off switch this coil'),
  })
  .strict();

/** Alerts that switch this device's siren coil on (sound-and-light alarm, 声光报警). */
export const AlarmOutputSchema = z
  .object({
    severities: z.array(z.enum(SEVERITIES)).min(1).default(['critical']),
    categories: z.array(z.enum(['police', 'property', 'care'])).optional().describe('Only alerts of these categories; all when omitted'),
    holdSeconds: z.number().int().min(1).max(3_600).default(120).describe('The siren stops after this long even if nobody acknowledges'),
  })
  .strict();

const Common = {
  bus: Id.describe('id of a serialBuses entry'),
  pollIntervalMs: z.number().int().min(20).max(3_600_000).optional().describe('Overrides the bus poll interval'),
};

export const ModbusDeviceSchema = z
  .object({
    ...Common,
    protocol: z.literal('modbus-rtu'),
    address: z.number().int().min(1).max(247).describe('Modbus unit id'),
    points: z.array(ModbusPointSchema).max(256).default([]),
    outputs: ModbusOutputsSchema.default({}),
    alarm: AlarmOutputSchema.optional().describe('Drive outputs.siren from alerts'),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.alarm && !d.outputs.siren) ctx.addIssue({ code: 'custom', path: ['alarm'], message: 'alarm needs outputs.siren (the coil to switch)' });
  });

export const ReaderDeviceSchema = z
  .object({
    ...Common,
    protocol: z.enum(READER_PROTOCOLS).describe('Reader codec (device-drivers/serial/codecs/)'),
    address: z.number().int().min(0).max(255).describe('Reader address on the bus'),
    openMs: z.number().int().min(100).max(60_000).default(3_000).describe('How long the reader releases the door after a granted swipe'),
    watchlisted: z
      .enum(['deny', 'grant-if-registered'])
      .default('deny')
      .describe('A watchlisted card: deny, or let a registered person pass (the alert is raised either way)'),
  })
  .strict();

/** How a device on a serial bus is reached: a Modbus RTU slave or a framed card reader. */
export const SerialDeviceSchema = z
  // The protocol is checked first so that a typo says which protocols exist, not "no allowed form".
  .looseObject({ protocol: z.enum(['modbus-rtu', ...READER_PROTOCOLS]) })
  .pipe(z.discriminatedUnion('protocol', [ModbusDeviceSchema, ReaderDeviceSchema]))
  // Editors (npm run schema) still get every field of both forms.
  .meta({ oneOf: [ModbusDeviceSchema, ReaderDeviceSchema].map((s) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' })).map(({ $schema: _, ...rest }) => rest) });

export type SerialBusConfig = z.infer<typeof SerialBusSchema>;
export type SerialDeviceConfig = z.infer<typeof SerialDeviceSchema>;
export type ModbusDeviceConfig = z.infer<typeof ModbusDeviceSchema>;
export type ReaderDeviceConfig = z.infer<typeof ReaderDeviceSchema>;
export type ModbusPointConfig = z.infer<typeof ModbusPointSchema>;
export type AlarmOutputConfig = z.infer<typeof AlarmOutputSchema>;
