import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/gridguard.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a real process (`node bin/gridguard.js …`), from the sources, in `cwd`. */
export function runCli(args: string[], options: { cwd: string; env?: Record<string, string>; input?: string } = { cwd: REPO }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = startCli(args, options);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    if (options.input !== undefined) child.stdin!.end(options.input);
    else child.stdin!.end();
  });
}

export function startCli(args: string[], options: { cwd: string; env?: Record<string, string> }): ChildProcess {
  // Only what the CLI should see: no GRIDGUARD_* from the developer's shell leaks into a test.
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', GRIDGUARD_RUNTIME: 'source', ...options.env };
  return spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Flags for `init` that make a valid site; the test adds its file and data dir. */
export const INIT_FLAGS = [
  '--community-name',
  '测试花园',
  '--gateway-id',
  'gw-cli-1',
  '--community-grid-code',
  'CG350102009',
  '--police-grid-code',
  'PG350102600109',
  '--police-station',
  '测试派出所',
  '--http-port',
  '0',
  '--mqtt-port',
  '0',
];

/** A fresh site from `init`, with a gate and a house added by hand as an installer would. */
export async function commissionedSite(): Promise<{ dir: string; file: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'gg-cli-'));
  const init = await runCli(['init', 'site.yaml', ...INIT_FLAGS, '--data-dir', join(dir, 'data')], { cwd: dir });
  if (init.code !== 0) throw new Error(init.stderr);
  const file = join(dir, 'site.yaml');
  const text = readFileSync(file, 'utf8')
    .replace('  gates: []\n', '  gates:\n    - { id: gate-1, name: 1号门, addressCode: "AC35010200001" }   # east gate, installer note\n')
    .replace('  buildings: []\n', '  buildings:\n    - { id: b1, name: 1号楼, units: [{ id: u1, name: 1单元, houses: [{ id: h101, name: "101", addressCode: "AC3501020101101" }] }] }\n');
  writeFileSync(file, text);
  return { dir, file };
}

/** The password line of `devices provision` output. */
export function printedSecret(stdout: string): string {
  const match = /^ {2}password: +(\S+)$/m.exec(stdout);
  if (!match) throw new Error(`no password in:\n${stdout}`);
  return match[1]!;
}

