#!/usr/bin/env node
// Second half of `npm run build`: tsc emits only JavaScript, but the code also reads files next to
// itself through import.meta.url (gateway/version.ts reads ../package.json; the console serves
// gateway/console/public/; config/ ships the example site and the JSON schema). This copies every
// non-TypeScript file of the compiled folders into the output, mirroring the tree, and writes a
// minimal package.json (name, version, type: module) at its root.
// Usage: node deploy/copy-build-assets.mjs [outDir]   (default: dist)
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = resolve(root, process.argv[2] ?? 'dist');
const SOURCE_DIRS = ['gateway', 'cloud-sync', 'device-drivers', 'models', 'config'];

if (!existsSync(join(outDir, 'gateway', 'main.js'))) {
  console.error(`copy-build-assets: ${outDir}/gateway/main.js missing; run tsc -p tsconfig.build.json first`);
  process.exit(1);
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
writeFileSync(join(outDir, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, type: pkg.type, private: true }, null, 2) + '\n');

let copied = 0;
function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') walk(path);
    } else if (entry.isFile() && !/\.(ts|mts|cts)$/.test(entry.name)) {
      const target = join(outDir, relative(root, path));
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(path, target);
      copied++;
    }
  }
}
for (const dir of SOURCE_DIRS) if (existsSync(join(root, dir))) walk(join(root, dir));
console.log(`copy-build-assets: package.json and ${copied} asset file(s) into ${relative(root, outDir) || '.'}`);
