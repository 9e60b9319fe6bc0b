#!/usr/bin/env node
// The `gridguard` command. Runs the production build (dist/, `npm run build`) when there is one,
// else the TypeScript sources through tsx. GRIDGUARD_RUNTIME=source|dist forces either.
import { existsSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const built = new URL('dist/gateway/cli/index.js', root);
const source = new URL('gateway/cli/index.ts', root);
const runtime = process.env.GRIDGUARD_RUNTIME;

if (runtime && runtime !== 'source' && runtime !== 'dist') {
  console.error(`gridguard: GRIDGUARD_RUNTIME must be "source" or "dist", not "${runtime}"`);
  process.exit(2);
}

let entry = built;
if (runtime === 'source' || (runtime !== 'dist' && !existsSync(built))) {
  if (!existsSync(source)) {
    console.error('gridguard: neither dist/ (npm run build) nor the sources are here');
    process.exit(1);
  }
  const { register } = await import('tsx/esm/api');
  register();
  entry = source;
} else if (!existsSync(built)) {
  console.error('gridguard: GRIDGUARD_RUNTIME=dist but dist/ is missing: run `npm run build`');
  process.exit(1);
} else if (runtime !== 'dist' && existsSync(source) && statSync(source).mtimeMs > statSync(built).mtimeMs) {
  console.error('gridguard: warning: dist/ is older than the sources; run `npm run build` (or GRIDGUARD_RUNTIME=source)');
}

const { main } = await import(entry.href);
process.exit(await main(process.argv));
