import { z } from 'zod';
import { Id, IsoTime } from '../config/schema/common.ts';
import { WatchEntrySchema } from '../config/schema/registry.ts';
import { RESIDENT_RELATIONS } from '../config/schema/registry.ts';
import { ALERT_STATUSES, SEVERITIES } from '../gateway/core/model.ts';

/**
 * Every message on grid/v1/…, as zod schemas: the gateway validates with them and
 * `npx tsx cloud-sync/export-schemas.ts` writes them as JSON Schema to docs/schemas/uplink/.
 */

const CommandId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, 'must be 1–128 letters, digits, "_", ".", ":" or "-"')
  .describe('Unique per command; the gateway applies each id at most once');

export const COMMAND_TYPES = ['ping', 'watchlist.upsert', 'watchlist.remove', 'registry.sync', 'rules.update', 'alert.disposition', 'config.reload'] as const;
export type CommandType = (typeof COMMAND_TYPES)[number];

/** The outer shape of a downlink command on …/cmd. The type is checked separately, after the signature. */
export const CommandSchema = z
  .object({
    v: z.literal(1).optional(),
    id: CommandId,
    gatewayId: Id.describe('The gateway the command is for: a command signed for one gateway is refused by every other'),
    type: z.string().min(1).max(64),
    issuedAt: IsoTime,
    payload: z.record(z.string(), z.unknown()),
    sig: z.string().describe('Ed25519 signature (base64) over the canonical bytes of the command without sig (docs/uplink-protocol.md)'),
  })
  .strict();
export type Command = z.infer<typeof CommandSchema>;

export const CircleScopeSchema = z
  .object({
    gates: z.array(Id).optional(),
    buildings: z.array(Id).optional(),
    zones: z.array(Id).optional(),
    devices: z.array(Id).optional(),
  })
  .strict()
  .describe('Circle (触圈) the entry applies to; stored with the entry');

export const PingPayload = z.object({}).passthrough();

export const WatchlistUpsertPayload = z
  .object({ entries: z.array(WatchEntrySchema.extend({ scope: CircleScopeSchema.optional() })).min(1).max(10_000) })
  .strict();

export const WatchlistRemovePayload = z.object({ ids: z.array(Id).min(1).max(10_000) }).strict();

export const RegistryPersonSchema = z
  .object({
    id: Id,
    kind: z.enum(['resident', 'visitor']),
    name: z.string().min(1).max(200),
    houses: z.array(Id).default([]),
    relation: z.enum(RESIDENT_RELATIONS).optional(),
    care: z.boolean().default(false),
    validFrom: IsoTime.optional(),
    validTo: IsoTime.optional(),
    credentials: z
      .array(z.object({ type: z.enum(['card', 'plate', 'face']), value: z.string().min(1).max(200) }).strict())
      .default([]),
  })
  .strict();

export const RegistrySyncPayload = z
  .object({
    mode: z.enum(['snapshot', 'delta']).describe('snapshot: these are all the persons (others are removed); delta: changes only'),
    persons: z.array(RegistryPersonSchema).max(100_000).default([]),
    removed: z.array(Id).max(100_000).default([]).describe('delta only: person ids to remove'),
  })
  .strict()
  .refine((p) => p.mode === 'delta' || p.removed.length === 0, { message: 'a snapshot lists what stays; "removed" is for deltas', path: ['removed'] });

export const RulesUpdatePayload = z
  .object({
    rules: z
      .array(
        z
          .object({
            id: Id,
            enabled: z.boolean().optional(),
            severity: z.enum(SEVERITIES).optional(),
            cooldownSeconds: z.number().int().min(0).optional(),
            params: z.record(z.string(), z.unknown()).optional().describe('Merged over the rule’s current params'),
          })
          .strict(),
      )
      .min(1)
      .max(1000),
  })
  .strict();

export const AlertDispositionPayload = z
  .object({
    alertId: z.string().min(1).max(64),
    status: z.enum(ALERT_STATUSES.filter((s) => s !== 'new') as [Exclude<(typeof ALERT_STATUSES)[number], 'new'>, ...Exclude<(typeof ALERT_STATUSES)[number], 'new'>[]]),
    by: z.string().min(1).max(100).describe('Who disposed of it on the platform (shown locally)'),
    note: z.string().max(2000).optional(),
  })
  .strict();

export const ConfigReloadPayload = z.object({}).passthrough();

export const COMMAND_PAYLOADS: Record<CommandType, z.ZodType> = {
  ping: PingPayload,
  'watchlist.upsert': WatchlistUpsertPayload,
  'watchlist.remove': WatchlistRemovePayload,
  'registry.sync': RegistrySyncPayload,
  'rules.update': RulesUpdatePayload,
  'alert.disposition': AlertDispositionPayload,
  'config.reload': ConfigReloadPayload,
};

export const COMMAND_ERROR_CODES = [
  'bad-json',
  'invalid-command',
  'no-public-key',
  'bad-signature',
  'wrong-gateway',
  'expired',
  'unknown-type',
  'invalid-payload',
  'not-found',
  'invalid-transition',
  'not-supported',
  'internal',
] as const;
export type CommandErrorCode = (typeof COMMAND_ERROR_CODES)[number];

export const CommandResultSchema = z
  .object({
    v: z.literal(1),
    id: CommandId.nullable().describe('null when the command could not be read far enough to find its id'),
    gatewayId: Id,
    status: z.enum(['ok', 'error']),
    code: z.enum(COMMAND_ERROR_CODES).optional(),
    error: z.string().optional().describe('What was wrong, naming the field'),
    result: z.record(z.string(), z.unknown()).optional(),
    duplicate: z.literal(true).optional().describe('The id was handled before: this repeats the first result, nothing was applied again'),
    at: IsoTime,
  })
  .strict();
export type CommandResult = z.infer<typeof CommandResultSchema>;

export const EnvelopeSchema = z
  .object({
    v: z.literal(1),
    gatewayId: Id,
    seq: z.number().int().min(1).describe('Per-gateway envelope counter; increases, may skip after a restart'),
    sentAt: IsoTime,
    kind: z.enum(['alert', 'alert-update', 'event', 'telemetry', 'media']),
    items: z.array(z.object({ id: z.string() }).passthrough()).min(1).describe('Each item keeps its stable id across resends'),
  })
  .strict();

export const AlertUpdateItemSchema = z
  .object({
    id: z.string(),
    alertId: z.string(),
    change: z.enum(['merged', 'transition', 'escalated']),
    status: z.enum(ALERT_STATUSES),
    severity: z.enum(SEVERITIES),
    occurrences: z.number().int(),
    transition: z
      .object({
        from: z.enum(ALERT_STATUSES).nullable(),
        to: z.enum(ALERT_STATUSES),
        at: IsoTime,
        by: z.string(),
        note: z.string().nullable(),
        source: z.enum(['local', 'platform', 'system']),
      })
      .nullable(),
    at: IsoTime,
    evidence: z.array(z.string()),
  })
  .passthrough();

export const MediaItemSchema = z
  .object({
    id: z.string().describe('`{alertId}:{mediaId}`: stable across resends, distinct when one image is evidence of two alerts'),
    alertId: z.string().describe('The alert (on …/alerts, sent before this item) the image is evidence of'),
    eventId: z.string().describe('The evidence event whose payload.imageId names the image'),
    mediaId: z.string().describe('The image id on the gateway (the event’s payload.imageId)'),
    deviceId: z.string(),
    mediaKind: z.enum(['face-crop', 'plate-crop', 'frame']),
    contentType: z.literal('image/jpeg'),
    capturedAt: IsoTime,
    bytes: z.number().int().min(1).describe('Size of the decoded image'),
    sha256: z.string().regex(/^[0-9a-f]{64}$/).describe('Of the decoded image, hex'),
    encoding: z.literal('base64'),
    data: z.string().describe('The JPEG, base64 (RFC 4648, with padding)'),
  })
  .strict()
  .describe('One evidence image; envelopes on …/media carry exactly one item');

export const HeartbeatItemSchema = z
  .object({
    id: z.string(),
    type: z.literal('heartbeat'),
    at: IsoTime,
    uptimeSeconds: z.number(),
    queue: z.record(z.string(), z.object({ count: z.number(), bytes: z.number() })),
  })
  .passthrough();

const QueueClass = z.object({
  count: z.number().int(),
  bytes: z.number().int(),
  oldestAgeSeconds: z.number().nullable(),
  evicted: z.number().int(),
  expired: z.number().int(),
});

export const StatusMessageSchema = z
  .object({
    v: z.literal(1),
    gatewayId: Id,
    state: z.enum(['online', 'offline']),
    version: z.string(),
    at: IsoTime,
    queue: z.record(z.string(), QueueClass).optional(),
    outbox: z.object({ bytes: z.number().int(), quotaBytes: z.number().int().nullable(), overQuota: z.boolean() }).optional(),
    devices: z.object({ total: z.number().int(), online: z.number().int() }).optional(),
    reconnects: z.number().int().optional(),
  })
  .passthrough()
  .describe('Retained on …/status; the last will sets state offline');
