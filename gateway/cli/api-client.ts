import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { LoadedConfig } from '../../config/load.ts';
import { CliError } from './common.ts';

/**
 * Where the gateway keeps the local API token for the CLI (gateway/auth: created at first start,
 * mode 0600). Whoever can read the data directory can already read the database, so holding
 * this file is as much trust as the installer's shell account has anyway.
 */
export const API_TOKEN_FILE = 'api-token';
/** The console's login route (issue 7); used only with --user/--password. */
export const LOGIN_PATH = '/api/auth/login';

export interface ApiOptions {
  url?: string;
  token?: string;
  tokenFile?: string;
  user?: string;
  password?: string;
  timeoutMs?: number;
}

/** Adds the options every command that talks to a running gateway shares. */
export function withApiOptions(command: Command): Command {
  return command
    .option('--url <url>', 'gateway API base URL (default: GRIDGUARD_API_URL, else http.host:http.port of the site file)')
    .option('--token <token>', 'API token (default: GRIDGUARD_API_TOKEN, else <dataDir>/api-token when readable)')
    .option('--token-file <file>', 'read the API token from this file')
    .option('--user <name>', 'log in as this console user (default: GRIDGUARD_API_USER)')
    .option('--password <password>', 'password for --user (default: GRIDGUARD_API_PASSWORD; prefer the variable: argv is visible to other users)');
}

export class GatewayApi {
  private cookie: string | null = null;

  constructor(
    readonly baseUrl: string,
    private readonly auth: { token?: string; user?: string; password?: string },
    private readonly timeoutMs = 5_000,
  ) {}

  /**
   * Builds a client from flags, environment and the site file. Credentials are sent whenever the
   * installer has them, even if the gateway still answers without: an API that becomes closed
   * later then keeps working.
   */
  static from(options: ApiOptions, loaded: LoadedConfig | null, env: NodeJS.ProcessEnv = process.env): GatewayApi {
    let baseUrl = options.url ?? env.GRIDGUARD_API_URL;
    if (!baseUrl) {
      const http = loaded?.config.http ?? { host: '127.0.0.1', port: 8080 };
      const host = http.host === '0.0.0.0' || http.host === '::' ? '127.0.0.1' : http.host;
      baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${http.port}`;
    }
    let token = options.token ?? env.GRIDGUARD_API_TOKEN;
    const tokenFile = options.tokenFile ?? (loaded ? join(resolve(loaded.config.storage.dataDir), API_TOKEN_FILE) : undefined);
    if (!token && tokenFile) {
      try {
        token = readFileSync(tokenFile, 'utf8').trim() || undefined;
      } catch (error) {
        if (options.tokenFile) throw new CliError(`cannot read the API token file ${tokenFile}: ${(error as Error).message}`);
      }
    }
    const user = options.user ?? env.GRIDGUARD_API_USER;
    const password = options.password ?? env.GRIDGUARD_API_PASSWORD;
    if (user && password === undefined) throw new CliError('--user needs a password: --password or GRIDGUARD_API_PASSWORD');
    return new GatewayApi(baseUrl.replace(/\/+$/, ''), { ...(token ? { token } : {}), ...(user ? { user, password: password! } : {}) }, options.timeoutMs);
  }

  async get<T>(path: string): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.auth.token) headers.authorization = `Bearer ${this.auth.token}`;
    else if (this.auth.user) headers.cookie = await this.login();
    const res = await this.fetch(path, { headers });
    if (res.status === 401 || res.status === 403) {
      throw new CliError(
        `${this.baseUrl}${path}: HTTP ${res.status} — ${this.auth.token || this.auth.user ? 'the gateway refused these credentials' : 'the gateway asks for credentials: --user/--password (GRIDGUARD_API_USER/GRIDGUARD_API_PASSWORD), or --token / GRIDGUARD_API_TOKEN, or run as a user who can read <dataDir>/api-token'}`,
      );
    }
    if (!res.ok) throw new CliError(`${this.baseUrl}${path}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    return (await res.json()) as T;
  }

  /** True when something answers /healthz at the base URL (no credentials needed). */
  async reachable(): Promise<boolean> {
    try {
      const res = await this.fetch('/healthz', {});
      return res.ok;
    } catch {
      return false;
    }
  }

  private async login(): Promise<string> {
    if (this.cookie) return this.cookie;
    const res = await this.fetch(LOGIN_PATH, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ username: this.auth.user, password: this.auth.password }),
    });
    if (!res.ok) throw new CliError(`${this.baseUrl}${LOGIN_PATH}: login as "${this.auth.user}" refused (HTTP ${res.status})`);
    const cookies = res.headers.getSetCookie().map((c) => c.split(';')[0]!).filter(Boolean);
    if (cookies.length === 0) throw new CliError(`${this.baseUrl}${LOGIN_PATH}: login answered without a session cookie`);
    this.cookie = cookies.join('; ');
    return this.cookie;
  }

  private async fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.baseUrl}${path}`, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new CliError(`cannot reach the gateway at ${this.baseUrl} (${cause}): is it running? (systemctl status gridguard)`);
    }
  }
}
