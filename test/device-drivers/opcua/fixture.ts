import { fork, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../helpers/net.ts';

const SCRIPT = fileURLToPath(new URL('./fixture-server.ts', import.meta.url));
/**
 * Server and user key pairs made by the first fixture on this machine, copied into later
 * fixtures' PKI folders: making RSA keys is most of a first start (seconds on a loaded machine).
 */
const KEY_CACHE = join(tmpdir(), 'gg-opcua-fixture-pki-v1');

/**
 * The fixture OPC-UA server in a child process. kill() is a hard outage (SIGKILL, no goodbye to
 * the clients); start() again comes back on the same port with the same PKI, as a rebooted
 * alarm host would.
 */
export class OpcuaFixture {
  readonly pkiDir = mkdtempSync(join(tmpdir(), 'gg-opcua-srv-'));
  port = 0;
  output = '';
  private proc: ChildProcess | null = null;
  private nextReply = 1;
  private waiting = new Map<number, (msg: Record<string, unknown>) => void>();

  constructor(private readonly env: Record<string, string> = {}) {}

  get endpoint(): string {
    return `opc.tcp://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port ||= await freePort();
    const fresh = readdirSync(this.pkiDir).length === 0;
    if (fresh && existsSync(KEY_CACHE)) cpSync(KEY_CACHE, this.pkiDir, { recursive: true });
    const proc = fork(SCRIPT, [String(this.port), this.pkiDir], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ...this.env },
    });
    this.proc = proc;
    proc.stdout!.on('data', (d) => (this.output += d));
    proc.stderr!.on('data', (d) => (this.output += d));
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`fixture OPC-UA server exited (${code}) before it was ready:\n${this.output}`));
      proc.once('exit', onExit);
      proc.on('message', (msg: Record<string, unknown>) => {
        if (msg.ready) {
          proc.off('exit', onExit);
          if (fresh && !existsSync(KEY_CACHE)) this.fillKeyCache();
          resolve();
        } else if (typeof msg.reply === 'number') {
          this.waiting.get(msg.reply)?.(msg);
          this.waiting.delete(msg.reply);
        }
      });
    });
  }

  private fillKeyCache(): void {
    const staging = `${KEY_CACHE}.${process.pid}`;
    try {
      cpSync(this.pkiDir, staging, { recursive: true });
      renameSync(staging, KEY_CACHE);
    } catch {
      // Another test file filled it first: theirs is as good.
      rmSync(staging, { recursive: true, force: true });
    }
  }

  /** A hard outage: the process dies without closing sessions. */
  async kill(): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  }

  stop(): Promise<void> {
    return this.kill();
  }

  /** A frozen alarm host: the process stops answering but its sockets stay open. */
  freeze(): void {
    this.proc?.kill('SIGSTOP');
  }

  thaw(): void {
    this.proc?.kill('SIGCONT');
  }

  set(node: string, value: boolean | number): Promise<Record<string, unknown>> {
    return this.request({ op: 'set', node, value });
  }

  /** Sets a value with a bad status (BadCommunicationError), as a server whose field bus failed. */
  fault(node: string, value: boolean | number): Promise<Record<string, unknown>> {
    return this.request({ op: 'fault', node, value });
  }

  async get(node: string): Promise<unknown> {
    return (await this.request({ op: 'get', node })).value;
  }

  /** Sets a numeric node to 1..count as fast as the server takes it; resolves with the seconds it took. */
  async burst(node: string, count: number): Promise<number> {
    return (await this.request({ op: 'burst', node, count })).seconds as number;
  }

  private request(msg: Record<string, unknown>): Promise<Record<string, unknown>> {
    const proc = this.proc;
    if (!proc) return Promise.reject(new Error('fixture OPC-UA server is not running'));
    const reply = this.nextReply++;
    return new Promise((resolve, reject) => {
      this.waiting.set(reply, (answer) => (answer.error ? reject(new Error(String(answer.error))) : resolve(answer)));
      proc.send({ ...msg, reply });
    });
  }
}
