import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderSchemas, SCHEMA_DIR } from '../../cloud-sync/export-schemas.ts';
import { COMMAND_PAYLOADS, COMMAND_TYPES, CommandSchema } from '../../cloud-sync/messages.ts';

describe('uplink JSON Schemas in docs/', () => {
  it('match the zod schemas the gateway validates with (run npx tsx cloud-sync/export-schemas.ts)', () => {
    for (const [file, text] of renderSchemas()) expect(readFileSync(join(SCHEMA_DIR, file), 'utf8'), file).toBe(text);
  });

  it('have a payload schema for every command type', () => {
    expect(Object.keys(COMMAND_PAYLOADS).sort()).toEqual([...COMMAND_TYPES].sort());
    for (const type of COMMAND_TYPES) expect(readFileSync(join(SCHEMA_DIR, `payload.${type}.schema.json`), 'utf8')).toContain('"$schema"');
  });

  it('refuse a command with unknown members, so nothing unsigned rides along', () => {
    const base = { id: 'c1', gatewayId: 'gw-1', type: 'ping', issuedAt: '2026-11-01T00:00:00Z', payload: {}, sig: 'x' };
    expect(CommandSchema.safeParse(base).success).toBe(true);
    expect(CommandSchema.safeParse({ ...base, extra: 1 }).success).toBe(false);
  });
});
