/** `npm run schema`: writes config/site.schema.json for editor completion (yaml-language-server). */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { GatewayConfigSchema } from './schema/index.ts';

export function siteJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(GatewayConfigSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, title: 'gridguard site configuration', $id: 'https://gridguard.local/site.schema.json' };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = fileURLToPath(new URL('./site.schema.json', import.meta.url));
  writeFileSync(out, JSON.stringify(siteJsonSchema(), null, 2) + '\n');
  console.log(`wrote ${out}`);
}
