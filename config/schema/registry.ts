import { z } from 'zod';
import { WATCH_LEVELS } from '../../gateway/core/model.ts';
import { Id, IsoTime } from './common.ts';

export const RESIDENT_RELATIONS = ['owner', 'family', 'tenant', 'other'] as const;

export const ResidentSchema = z
  .object({
    id: Id.describe('Person id (platform-assigned)'),
    name: z.string().min(1),
    houses: z.array(Id).default([]).describe('ids of the houses the person lives in'),
    relation: z.enum(RESIDENT_RELATIONS).default('owner'),
    cards: z.array(z.string().min(1)).default([]).describe('Access card numbers'),
    plates: z.array(z.string().min(1)).default([]).describe('Vehicle plates'),
    care: z.boolean().default(false).describe('On the care list (关爱对象, e.g. an elderly resident living alone)'),
  })
  .strict();

export const VisitorSchema = z
  .object({
    id: Id,
    name: z.string().min(1),
    host: Id.optional().describe('house id being visited'),
    cards: z.array(z.string().min(1)).default([]),
    plates: z.array(z.string().min(1)).default([]),
    validFrom: IsoTime.optional(),
    validTo: IsoTime.optional(),
  })
  .strict();

export const RegistrySchema = z
  .object({
    residents: z.array(ResidentSchema).default([]),
    visitors: z.array(VisitorSchema).default([]),
  })
  .strict()
  .describe('Seed of the local registry (一标三实); the platform syncs it later');

export const WatchSubjectSchema = z
  .object({
    type: z.enum(['card', 'plate', 'person', 'face']),
    value: z.string().min(1).describe('Card number, plate, person id or face id'),
  })
  .strict();

export const WatchEntrySchema = z
  .object({
    id: Id,
    subject: WatchSubjectSchema,
    level: z.enum(WATCH_LEVELS),
    reason: z.string().min(1).describe('e.g. 在逃, 涉毒, 重点关注'),
    validFrom: IsoTime.optional(),
    validTo: IsoTime.optional(),
  })
  .strict();

export type ResidentConfig = z.infer<typeof ResidentSchema>;
export type VisitorConfig = z.infer<typeof VisitorSchema>;
export type WatchEntryConfig = z.infer<typeof WatchEntrySchema>;
