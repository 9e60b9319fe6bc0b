import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './net.ts';
import { connect } from 'node:net';

export interface MosquittoOptions {
  port?: number;
  /** Extra listener lines, e.g. TLS settings (cafile, certfile, keyfile, require_certificate). */
  listenerLines?: string[];
  allowAnonymous?: boolean;
}

/**
 * A real mosquitto as the grid platform broker, on a free loopback port, with an unbounded
 * queue (max_queued_messages 0) so tests that count every message lose none.
 */
export class Mosquitto {
  private proc: ChildProcess | null = null;
  readonly dir = mkdtempSync(join(tmpdir(), 'gg-mosq-'));
  port = 0;
  log = '';

  constructor(private readonly options: MosquittoOptions = {}) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port ||= this.options.port ?? (await freePort());
    const conf = join(this.dir, 'mosquitto.conf');
    const lines = [
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      `listener ${this.port} 127.0.0.1`,
      `allow_anonymous ${this.options.allowAnonymous ?? true}`,
      'max_queued_messages 0',
      'max_inflight_messages 0',
      'persistence false',
      ...(this.options.listenerLines ?? []),
    ];
    writeFileSync(conf, lines.join('\n') + '\n');
    this.proc = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d) => (this.log += d));
    this.proc.stderr!.on('data', (d) => (this.log += d));
    await waitFor(() => canConnect(this.port), `mosquitto on port ${this.port}\n${this.log}`);
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  }

  /** Stop and start on the same port: a platform outage. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
