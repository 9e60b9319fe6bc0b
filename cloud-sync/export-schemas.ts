/**
 * Writes the uplink protocol's JSON Schemas (docs/schemas/uplink/) from the zod schemas the
 * gateway itself validates with: `npx tsx cloud-sync/export-schemas.ts`. A test fails when the
 * files are stale.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  AlertDispositionPayload,
  AlertUpdateItemSchema,
  CommandResultSchema,
  CommandSchema,
  ConfigReloadPayload,
  EnvelopeSchema,
  HeartbeatItemSchema,
  MediaItemSchema,
  PingPayload,
  RegistrySyncPayload,
  RulesUpdatePayload,
  StatusMessageSchema,
  WatchlistRemovePayload,
  WatchlistUpsertPayload,
} from './messages.ts';

export const SCHEMA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'schemas', 'uplink');

const SCHEMAS: Record<string, { title: string; schema: z.ZodType; io: 'input' | 'output' }> = {
  envelope: { title: 'Envelope on grid/v1/{community}/{gateway}/{alerts|alert-updates|events|media}', schema: EnvelopeSchema, io: 'output' },
  'media-item': { title: 'The item of a media envelope (one evidence image)', schema: MediaItemSchema, io: 'output' },
  'alert-update-item': { title: 'An item of an alert-updates envelope', schema: AlertUpdateItemSchema, io: 'output' },
  'heartbeat-item': { title: 'A telemetry heartbeat item (events topic, kind telemetry)', schema: HeartbeatItemSchema, io: 'output' },
  status: { title: 'Retained status message on …/status', schema: StatusMessageSchema, io: 'output' },
  command: { title: 'Downlink command on …/cmd', schema: CommandSchema, io: 'input' },
  'command-result': { title: 'Command result on …/cmd/result', schema: CommandResultSchema, io: 'output' },
  'payload.ping': { title: 'Payload of a ping command', schema: PingPayload, io: 'input' },
  'payload.watchlist.upsert': { title: 'Payload of watchlist.upsert', schema: WatchlistUpsertPayload, io: 'input' },
  'payload.watchlist.remove': { title: 'Payload of watchlist.remove', schema: WatchlistRemovePayload, io: 'input' },
  'payload.registry.sync': { title: 'Payload of registry.sync', schema: RegistrySyncPayload, io: 'input' },
  'payload.rules.update': { title: 'Payload of rules.update', schema: RulesUpdatePayload, io: 'input' },
  'payload.alert.disposition': { title: 'Payload of alert.disposition', schema: AlertDispositionPayload, io: 'input' },
  'payload.config.reload': { title: 'Payload of config.reload (answered not-supported)', schema: ConfigReloadPayload, io: 'input' },
};

export function renderSchemas(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, { title, schema, io }] of Object.entries(SCHEMAS)) {
    const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
    const doc = { $id: `https://gridguard.local/schemas/uplink/v1/${name}.schema.json`, title: `gridguard uplink v1: ${title}`, ...json };
    out.set(`${name}.schema.json`, JSON.stringify(doc, null, 2) + '\n');
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(SCHEMA_DIR, { recursive: true });
  for (const [file, text] of renderSchemas()) writeFileSync(join(SCHEMA_DIR, file), text);
  console.log(`wrote ${renderSchemas().size} schemas to ${SCHEMA_DIR}`);
}
