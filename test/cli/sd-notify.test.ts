import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SystemdNotifier } from '../../gateway/cli/sd-notify.ts';
import { waitFor } from '../helpers/net.ts';
import { requireTool } from '../helpers/tools.ts';

const FAKE_SYSTEMD = new URL('./fake-systemd-notify.py', import.meta.url).pathname;

const haveTools = requireTool('python3', 'python3') && requireTool('systemd-notify', 'systemd');

describe.skipIf(!haveTools)('SystemdNotifier over a real unix datagram socket', { timeout: 60_000 }, () => {
  let listener: ChildProcess | null = null;
  afterEach(() => listener?.kill());

  async function notifySocket(): Promise<{ path: string; received: () => string }> {
    const path = join(mkdtempSync(join(tmpdir(), 'gg-notify-')), 'notify.sock');
    let text = '';
    listener = spawn('python3', [FAKE_SYSTEMD, path], { stdio: ['ignore', 'pipe', 'ignore'] });
    listener.stdout!.on('data', (d) => (text += d));
    await waitFor(() => existsSync(path), 'notify socket');
    return { path, received: () => text };
  }

  it('feeds the watchdog only while the health probe passes', async () => {
    const socket = await notifySocket();
    let healthy = false;
    let probes = 0;
    const errors: string[] = [];
    const notifier = new SystemdNotifier({
      healthy: async () => {
        probes++;
        return healthy;
      },
      env: { PATH: process.env.PATH, NOTIFY_SOCKET: socket.path, WATCHDOG_USEC: '1000000' },
      onError: (m) => errors.push(m),
    });
    expect(notifier.intervalMs).toBe(500);
    await notifier.start();
    await waitFor(() => socket.received().includes('READY=1'), 'READY=1');
    await waitFor(() => probes >= 3, 'three failed probes');
    expect(socket.received()).not.toContain('WATCHDOG=1');
    expect(errors[0]).toBe('health probe failed: watchdog not fed');
    healthy = true;
    await waitFor(() => socket.received().includes('WATCHDOG=1'), 'WATCHDOG=1 once healthy');
    await notifier.stop();
    await waitFor(() => socket.received().includes('STOPPING=1'), 'STOPPING=1');
  });

  it('does nothing without NOTIFY_SOCKET, and ignores a watchdog meant for another process', async () => {
    const off = new SystemdNotifier({ healthy: async () => true, env: {} });
    expect(off.enabled).toBe(false);
    await off.start();
    await off.stop();
    const other = new SystemdNotifier({ healthy: async () => true, env: { NOTIFY_SOCKET: '/nonexistent', WATCHDOG_USEC: '1000000', WATCHDOG_PID: String(process.pid + 1) } });
    expect(other.intervalMs).toBeNull();
  });
});
