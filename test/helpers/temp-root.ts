/**
 * vitest globalSetup: the run's temporary files under one directory of their own. Tests keep
 * their gateway data directories (the secrets-in-logs sweep reads their logs), and brokers, ptys
 * and Chromium make theirs; in the machine's /tmp they piled up run after run. `npm test`
 * (test/run.ts) makes the directory itself, shares it with the sweep and removes it when both
 * passed; a run started another way (`npx vitest run <file>`) gets one here, removed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Set by test/run.ts: the directory is already TMPDIR and outlives this vitest run. */
export const SHARED_ROOT_ENV = 'GRIDGUARD_TEST_TMPDIR';

/** A new directory for one run's temporary files. */
export function makeTestRoot(): string {
  return mkdtempSync(join(tmpdir(), 'gridguard-test-'));
}

export default function setup(): (() => void) | undefined {
  if (process.env[SHARED_ROOT_ENV]) return undefined;
  const root = makeTestRoot();
  // The workers are forked after this and inherit it: os.tmpdir() reads TMPDIR.
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
