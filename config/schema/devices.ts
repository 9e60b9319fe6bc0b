import { z } from 'zod';
import { DEVICE_KINDS, TRANSPORTS } from '../../gateway/core/model.ts';
import { CameraDeviceSchema } from './camera.ts';
import { Id } from './common.ts';
import { OpcuaDeviceSchema } from './opcua.ts';
import { SerialDeviceSchema } from './serial.ts';

export const LocationSchema = z
  .object({
    gate: Id.optional().describe('id of a site gate'),
    building: Id.optional().describe('id of a site building'),
    unit: Id.optional().describe('id of a unit in that building'),
    house: Id.optional().describe('id of a house'),
    zone: Id.optional().describe('id of a site zone'),
  })
  .strict()
  .describe('Where the device stands; its three codes are resolved from here (三码叠加)');

export const DeviceSchema = z
  .object({
    id: Id.describe('Device id; MQTT devices log in with it as client id and username'),
    name: z.string().min(1).optional(),
    kind: z.enum(DEVICE_KINDS),
    transport: z.enum(TRANSPORTS),
    location: LocationSchema.default({}),
    secretHash: z
      .string()
      .regex(/^scrypt\$/, 'must be a hash made by `gridguard devices provision` (scrypt$…)')
      .optional()
      .describe('MQTT devices: hash of the device secret. Never the secret itself.'),
    simulated: z
      .boolean()
      .default(false)
      .describe('Played by the built-in simulator with a secret made at start-up; refused unless the simulator is on'),
    heartbeatSeconds: z.number().int().min(5).max(86_400).default(60).describe('Expected heartbeat interval'),
    offlineAfterMissed: z.number().int().min(1).max(100).default(3).describe('Heartbeats missed before the device counts as offline'),
    serial: SerialDeviceSchema.optional(),
    opcua: OpcuaDeviceSchema.optional(),
    camera: CameraDeviceSchema.optional(),
  })
  .strict();

export type DeviceConfig = z.infer<typeof DeviceSchema>;
