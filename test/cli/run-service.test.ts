import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { waitFor } from '../helpers/net.ts';
import { requireTool } from '../helpers/tools.ts';

const FAKE_SYSTEMD = new URL('./fake-systemd-notify.py', import.meta.url).pathname;
import { commissionedSite, REPO, runCli, startCli } from './run-cli.ts';

const haveTools = requireTool('python3', 'python3') && requireTool('systemd-notify', 'systemd');

function portsZero(file: string): void {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.setIn(['broker', 'host'], '127.0.0.1');
  doc.setIn(['broker', 'port'], 0);
  doc.setIn(['http', 'port'], 0);
  writeFileSync(file, doc.toString());
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));
}

describe.skipIf(!haveTools)('gridguard run under a (fake) systemd notify socket', { timeout: 180_000 }, () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('sends READY=1 once started, then WATCHDOG=1 pings while healthy, and STOPPING=1 on SIGTERM', async () => {
    const { dir, file } = await commissionedSite();
    portsZero(file);
    const socket = join(dir, 'notify.sock');
    // A fake systemd receives the datagrams (test/cli/fake-systemd-notify.py).
    let received = '';
    const listener = spawn('python3', [FAKE_SYSTEMD, socket], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(listener);
    listener.stdout!.on('data', (d) => (received += d));
    await waitFor(() => existsSync(socket), 'notify socket');

    const gateway = startCli(['-c', 'site.yaml', 'run'], { cwd: dir, env: { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '2000000' } });
    children.push(gateway);
    let log = '';
    gateway.stdout!.on('data', (d) => (log += d));
    gateway.stderr!.on('data', (d) => (log += d));
    await waitFor(() => received.includes('READY=1'), `READY=1 from gridguard run\n${log}`, 60_000);
    expect(received).toContain(`MAINPID=${gateway.pid}`);
    await waitFor(() => log.includes('"watchdogMs":1000'), 'the running line with the watchdog period');
    await waitFor(() => received.split('WATCHDOG=1').length - 1 >= 2, 'two watchdog pings', 30_000);
    expect(log).not.toContain('systemd-notify failed');
    gateway.kill('SIGTERM');
    expect(await exited(gateway)).toBe(0);
    await waitFor(() => received.includes('STOPPING=1'), 'STOPPING=1');
  });

  it('without NOTIFY_SOCKET it runs as a plain foreground process; a bad site file exits 2', async () => {
    const { dir, file } = await commissionedSite();
    portsZero(file);
    const gateway = startCli(['-c', 'site.yaml', 'run'], { cwd: dir });
    children.push(gateway);
    let log = '';
    gateway.stdout!.on('data', (d) => (log += d));
    await waitFor(() => log.includes('running'), 'gateway running', 60_000);
    expect(log).toContain('"watchdogMs":null');
    gateway.kill('SIGTERM');
    expect(await exited(gateway)).toBe(0);

    const bad = await runCli(['-c', 'missing.yaml', 'run'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('missing.yaml');
  });
});

describe('npm run build output', { timeout: 600_000 }, () => {
  it('compiles to JavaScript that starts the gateway and runs the CLI without tsx', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gg-build-'));
    try {
      const build = await run(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(REPO, 'tsconfig.build.json'), '--outDir', out], REPO);
      // tsc emits even with type errors elsewhere in a shared tree; what matters here is that it emitted.
      expect(existsSync(join(out, 'gateway/main.js')), build.output).toBe(true);
      const assets = await run(process.execPath, [join(REPO, 'deploy/copy-build-assets.mjs'), out], REPO);
      expect(assets.code, assets.output).toBe(0);
      expect(JSON.parse(readFileSync(join(out, 'package.json'), 'utf8')).version).toBe(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version);
      // Outside the repository, packages resolve through a node_modules link as they would next to dist/.
      symlinkSync(join(REPO, 'node_modules'), join(out, 'node_modules'));

      const { dir, file } = await commissionedSite();
      portsZero(file);
      const cli = await run(process.execPath, ['--input-type=module', '-e', `const { main } = await import(${JSON.stringify(join(out, 'gateway/cli/index.js'))}); process.exit(await main(['node', 'gridguard', 'check', 'site.yaml']));`], dir);
      expect(cli.output).toContain('site.yaml: OK');
      expect(cli.code).toBe(0);

      const gateway = spawn(process.execPath, [join(out, 'gateway/main.js'), '--config', file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
      let log = '';
      gateway.stdout!.on('data', (d) => (log += d));
      gateway.stderr!.on('data', (d) => (log += d));
      try {
        await waitFor(() => /running — console http:\/\/127\.0\.0\.1:(\d+)/.exec(log), `built gateway running\n${log}`, 60_000);
        const port = /running — console http:\/\/127\.0\.0\.1:(\d+)/.exec(log)![1];
        const health = await fetch(`http://127.0.0.1:${port}/healthz`);
        expect(health.status).toBe(200);
        // Non-TypeScript assets (the console's files) were copied next to the compiled code.
        const page = await fetch(`http://127.0.0.1:${port}/`);
        expect(page.status).toBe(200);
        expect(page.headers.get('content-type')).toContain('text/html');
        expect(log).not.toContain('.ts');
      } finally {
        gateway.kill('SIGTERM');
        await exited(gateway);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    child.once('close', (code) => resolve({ code, output }));
  });
}
