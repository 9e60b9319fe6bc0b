import { execFile } from 'node:child_process';
import type { Service } from '../core/service.ts';

/**
 * systemd's sd_notify protocol for `Type=notify` with `WatchdogSec=`. Node cannot send on a
 * unix datagram socket (node:dgram has no AF_UNIX), so the messages go through systemd's own
 * `systemd-notify --pid=<our pid>`; the unit then needs `NotifyAccess=all`, because the sender is
 * a child process (the --pid attributes the message to us, and systemd ≥ 254 reads it from the
 * socket credentials as well).
 *
 * The watchdog ping is sent only while `healthy()` says the gateway works, so a process that is
 * alive but wedged (event loop stuck in a long SQLite statement, HTTP not answering) stops
 * pinging and systemd restarts it. Without NOTIFY_SOCKET (not under systemd) this does nothing.
 */
export class SystemdNotifier implements Service {
  readonly name = 'sd-notify';
  private timer: NodeJS.Timeout | null = null;
  private pinging = false;

  constructor(
    private readonly deps: {
      healthy: () => Promise<boolean>;
      env?: NodeJS.ProcessEnv;
      onError?: (message: string) => void;
      command?: string;
    },
  ) {}

  get enabled(): boolean {
    return Boolean((this.deps.env ?? process.env).NOTIFY_SOCKET);
  }

  /** Half the watchdog period, as sd_watchdog_enabled(3) recommends; null when systemd set none. */
  get intervalMs(): number | null {
    const env = this.deps.env ?? process.env;
    const usec = Number(env.WATCHDOG_USEC);
    if (!usec || !Number.isFinite(usec)) return null;
    if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid) return null;
    return Math.max(500, Math.floor(usec / 1000 / 2));
  }

  /** Call once the gateway is started: tells systemd we are ready, then keeps the watchdog fed. */
  async start(): Promise<void> {
    if (!this.enabled) return;
    await this.send(['READY=1', `STATUS=gridguard running`, `MAINPID=${process.pid}`]);
    const every = this.intervalMs;
    if (every === null) return;
    this.timer = setInterval(() => void this.ping(), every);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.enabled) await this.send(['STOPPING=1']);
  }

  private async ping(): Promise<void> {
    if (this.pinging) return;
    this.pinging = true;
    try {
      if (await this.deps.healthy()) await this.send(['WATCHDOG=1']);
      else this.deps.onError?.('health probe failed: watchdog not fed');
    } finally {
      this.pinging = false;
    }
  }

  private send(assignments: string[]): Promise<void> {
    return new Promise((resolve) =>
      execFile(this.deps.command ?? 'systemd-notify', [`--pid=${process.pid}`, ...assignments], { timeout: 5_000, env: this.deps.env ?? process.env }, (error) => {
        if (error) this.deps.onError?.(`systemd-notify failed: ${error.message}`);
        resolve();
      }),
    );
  }
}
