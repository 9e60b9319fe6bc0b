/**
 * `npm run bench [name…]`: runs the benchmarks one after another (all by default), each in a node
 * started with the gateway's V8 flags (gateway/core/node-flags.ts), so they measure it as it runs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { GATEWAY_NODE_FLAGS } from '../gateway/core/node-flags.ts';

const all = readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.replace(/\.ts$/, ''));
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : all;
let failed = 0;
for (const name of chosen) {
  const file = new URL(`./${name}.ts`, import.meta.url);
  if (!existsSync(file)) {
    console.error(`no benchmark "${name}"; have: ${all.join(', ')}`);
    failed++;
    continue;
  }
  console.log(`\n=== bench/${name}.ts`);
  const r = spawnSync(process.execPath, [...GATEWAY_NODE_FLAGS, '--import', 'tsx', file.pathname], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
