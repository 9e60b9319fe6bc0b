import { z } from 'zod';
import { EVENT_TYPES } from '../../gateway/core/model.ts';


const short = z.string().min(1).max(64);

/** The JSON a device publishes on devices/{id}/events. Unknown fields are kept as payload. */
export const DeviceEventMessage = z
  .object({
    type: z.enum(EVENT_TYPES),
    ts: z.union([z.string().max(40), z.number().finite()]).optional(),
    cardNo: short.optional(),
    personId: short.optional(),
    plate: z.string().min(2).max(16).optional(),
    faceId: short.optional(),
    feature: z.array(z.number().finite()).min(32).max(2048).optional(),
    zone: short.optional(),
  })
  .catchall(z.unknown())
  .superRefine((msg, ctx) => {
    const hasCredential = msg.cardNo || msg.personId || msg.plate || msg.faceId || msg.feature;
    if ((msg.type === 'access.granted' || msg.type === 'access.denied' || msg.type === 'doorplate.scan') && !hasCredential)
      ctx.addIssue({ code: 'custom', path: ['cardNo'], message: `${msg.type} needs cardNo, personId, plate or faceId` });
    if (msg.type === 'plate.captured' && !msg.plate) ctx.addIssue({ code: 'custom', path: ['plate'], message: 'plate.captured needs plate' });
    if (msg.type === 'face.captured' && !msg.faceId && !msg.feature && !msg.personId)
      ctx.addIssue({ code: 'custom', path: ['faceId'], message: 'face.captured needs faceId, feature or personId' });
  });

export type DeviceEventMessage = z.infer<typeof DeviceEventMessage>;

export const HeartbeatMessage = z
  .object({
    ts: z.union([z.string().max(40), z.number().finite()]).optional(),
    battery: z.number().min(0).max(100).optional(),
    rssi: z.number().optional(),
    firmware: z.string().max(64).optional(),
    uptime: z.number().nonnegative().optional(),
  })
  .catchall(z.unknown());

export const CommandResultMessage = z
  .object({
    id: z.string().min(1).max(64),
    ok: z.boolean(),
    error: z.string().max(500).optional(),
    data: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

/** Largest JSON accepted on events/heartbeat topics (snapshots have their own topic and limit). */
export const MAX_JSON_BYTES = 64 * 1024;
