import { spawn, type ChildProcess } from 'node:child_process';
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
