import { chmodSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DEFAULT_CONFIG_FILE } from '../../config/load.ts';

/** An error the CLI reports as one line (no stack) before exiting with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Where a command finds the site file: --config, then GRIDGUARD_CONFIG, then the gateway's default. */
export function siteFileFrom(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return explicit ?? (env.GRIDGUARD_CONFIG || DEFAULT_CONFIG_FILE);
}

/**
 * Replaces a file in one step (write a sibling, then rename), so that a crash or a full disk
 * never leaves a half-written site file behind. Keeps the old file's mode: a site file often
 * holds hashes and is deliberately 0640.
 */
export function writeFileAtomic(file: string, text: string, mode?: number): void {
  let keepMode = mode;
  if (keepMode === undefined) {
    try {
      keepMode = statSync(file).mode & 0o777;
    } catch {
      keepMode = 0o640;
    }
  }
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  writeFileSync(temp, text, { mode: keepMode });
  chmodSync(temp, keepMode);
  renameSync(temp, file);
}

/** Fixed-width columns for terminal tables; wide (CJK) characters count double. */
export function table(rows: string[][]): string {
  const width = (s: string) => [...s].reduce((n, ch) => n + (/[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1), 0);
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, width(cell))));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - width(cell)))).join('  ')).join('\n');
}

export function ago(iso: string | null | undefined, nowMs = Date.now()): string {
  if (!iso) return 'never';
  const seconds = Math.round((nowMs - Date.parse(iso)) / 1000);
  if (!Number.isFinite(seconds)) return iso;
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86_400)}d ago`;
}
