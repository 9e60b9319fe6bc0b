import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ConsoleConfig } from '../../config/schema/console.ts';
import type { Clock, TimerHandle } from '../core/clock.ts';
import { newId } from '../core/ids.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../core/metrics.ts';
import { hashSecret, verifySecret } from '../core/secrets.ts';
import type { Service } from '../core/service.ts';
import type { Store } from '../store/store.ts';
import type { Role } from './roles.ts';
import { SessionsRepo, UsersRepo, type User } from './users.ts';

/** Who is making a request: a console user, or the local CLI holding the API token. */
export interface Principal {
  userId: string;
  username: string;
  displayName: string;
  role: Role;
  via: 'session' | 'token';
}

export class AuthError extends Error {
  constructor(
    readonly code: 'bad-password' | 'bad-username' | 'exists' | 'not-found' | 'last-admin',
    message: string,
  ) {
    super(message);
  }
}

export const MIN_PASSWORD_LENGTH = 10;
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{1,31}$/;
/** Last-seen is written at most this often per session: a busy console must not flood the write queue. */
const TOUCH_EVERY_MS = 60_000;

export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new AuthError('bad-password', `password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > 256) throw new AuthError('bad-password', 'password must have at most 256 characters');
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * Local console users and their sessions. Passwords are scrypt hashes (gateway/core/secrets.ts);
 * session tokens are 32 random bytes kept in an HttpOnly cookie, stored only as a SHA-256, so a
 * copy of the database opens no session. Sessions end when idle too long, at a fixed maximum age,
 * at logout, and when the user is disabled or their password changes.
 */
export class AuthService implements Service {
  readonly name = 'auth';
  readonly users: UsersRepo;
  readonly sessions: SessionsRepo;
  private sweepTimer: TimerHandle | null = null;
  private apiToken: string | null = null;
  /** A hash to check unknown user names against, so that a wrong name costs as long as a wrong password. */
  private decoyHash: Promise<string> | null = null;

  constructor(
    private readonly deps: {
      store: Store;
      config: ConsoleConfig;
      clock: Clock;
      metrics: Metrics;
      log: Logger;
      /** Where the local API token for the CLI lives (created at first start, mode 0600). */
      apiTokenFile: string | null;
    },
  ) {
    this.users = new UsersRepo(deps.store.db);
    this.sessions = new SessionsRepo(deps.store.db);
  }

  start(): void {
    this.decoyHash = hashSecret(randomBytes(16));
    if (this.deps.apiTokenFile) this.apiToken = this.loadOrCreateApiToken(this.deps.apiTokenFile);
    if (this.users.countAdmins() === 0) {
      this.deps.log.warn('no console admin yet: create one with `npm run admin:create -- --username <name>` (docs/console.md)');
    }
    this.sweep();
  }

  stop(): void {
    if (this.sweepTimer) this.deps.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
  }

  get idleMs(): number {
    return this.deps.config.sessionIdleMinutes * 60_000;
  }

  get maxAgeMs(): number {
    return this.deps.config.sessionMaxHours * 3_600_000;
  }

  async createUser(input: { username: string; displayName?: string; role: Role; password: string }): Promise<User> {
    if (!USERNAME.test(input.username)) throw new AuthError('bad-username', 'user name must be 2–32 letters, digits, "_", "-" or "." and start with a letter or digit');
    checkPassword(input.password);
    if (this.users.findByUsername(input.username)) throw new AuthError('exists', `user ${input.username} already exists`);
    const passwordHash = await hashSecret(input.password);
    const now = this.deps.clock.now();
    return this.deps.store.writes.write(() =>
      this.users.insert({ id: newId(), username: input.username, displayName: input.displayName?.trim() || input.username, role: input.role, passwordHash }, now),
    );
  }

  async updateUser(id: string, change: { displayName?: string; role?: Role; disabled?: boolean; password?: string }): Promise<User> {
    const user = this.users.get(id);
    if (!user) throw new AuthError('not-found', `no user with id ${id}`);
    const losesAdmin = user.role === 'admin' && !user.disabled && ((change.role && change.role !== 'admin') || change.disabled === true);
    if (losesAdmin && this.users.countAdmins() <= 1) throw new AuthError('last-admin', 'the last active admin cannot be demoted or disabled');
    let passwordHash: string | undefined;
    if (change.password !== undefined) {
      checkPassword(change.password);
      passwordHash = await hashSecret(change.password);
    }
    const now = this.deps.clock.now();
    return this.deps.store.writes.write(() => {
      const updated = this.users.update(
        id,
        {
          ...(change.displayName !== undefined ? { displayName: change.displayName } : {}),
          ...(change.role !== undefined ? { role: change.role } : {}),
          ...(change.disabled !== undefined ? { disabled: change.disabled } : {}),
          ...(passwordHash ? { passwordHash } : {}),
        },
        now,
      )!;
      // A new password or a disabled account ends every open session of that user.
      if (passwordHash || change.disabled === true || change.role !== undefined) this.sessions.deleteForUser(id);
      return updated;
    });
  }

  /** Checks a password and opens a session. Returns null, never a reason, on any failure. */
  async login(username: string, password: string, ip: string | null): Promise<{ token: string; user: User; expiresMs: number } | null> {
    const found = this.users.findByUsername(username);
    const ok = await verifySecret(password, found?.passwordHash ?? (await this.decoyHash!));
    if (!found || !ok || found.disabled) {
      this.deps.metrics.rejected.inc({ source: 'http', reason: 'login-failed' });
      this.deps.log.warn({ username, ip, reason: !found ? 'unknown user' : found.disabled ? 'disabled' : 'wrong password' }, `console login refused for "${username}" from ${ip ?? '?'}`);
      return null;
    }
    const token = randomBytes(32).toString('base64url');
    const now = this.deps.clock.now();
    const expiresMs = now + this.maxAgeMs;
    await this.deps.store.writes.write(() => this.sessions.insert(tokenHash(token), found.id, now, expiresMs, ip));
    const { passwordHash: _omit, ...user } = found;
    this.deps.log.info({ username: user.username, role: user.role, ip }, `console login: ${user.username}`);
    return { token, user, expiresMs };
  }

  /** Checks a user's password without opening a session (password change). */
  async verifyPassword(username: string, password: string): Promise<boolean> {
    const found = this.users.findByUsername(username);
    const ok = await verifySecret(password, found?.passwordHash ?? (await this.decoyHash!));
    return Boolean(found && ok && !found.disabled);
  }

  async logout(token: string): Promise<void> {
    const hash = tokenHash(token);
    await this.deps.store.writes.write(() => this.sessions.delete(hash));
  }

  /** The principal a session token stands for, or null when it is unknown, expired or idle too long. */
  resolveSession(token: string): Principal | null {
    const hash = tokenHash(token);
    const session = this.sessions.get(hash);
    if (!session) return null;
    const now = this.deps.clock.now();
    if (session.expiresMs <= now || session.lastSeenMs + this.idleMs <= now) {
      void this.deps.store.writes.write(() => this.sessions.delete(hash)).catch(() => {});
      return null;
    }
    const user = this.users.get(session.userId);
    if (!user || user.disabled) return null;
    if (now - session.lastSeenMs >= TOUCH_EVERY_MS) void this.deps.store.writes.write(() => this.sessions.touch(hash, now)).catch(() => {});
    return { userId: user.id, username: user.username, displayName: user.displayName, role: user.role, via: 'session' };
  }

  /** The local CLI's bearer token: whoever can read the data directory may already read the database. */
  resolveApiToken(token: string): Principal | null {
    if (!this.apiToken) return null;
    const a = Buffer.from(token);
    const b = Buffer.from(this.apiToken);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return null;
    return { userId: 'local-cli', username: 'local-cli', displayName: 'local CLI', role: 'admin', via: 'token' };
  }

  private loadOrCreateApiToken(file: string): string {
    if (existsSync(file)) {
      const token = readFileSync(file, 'utf8').trim();
      if (token.length >= 32) return token;
    }
    mkdirSync(dirname(file), { recursive: true });
    const token = randomBytes(32).toString('base64url');
    writeFileSync(file, token + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
    return token;
  }

  private sweep(): void {
    const { store, clock } = this.deps;
    void store.writes.write(() => this.sessions.deleteExpired(clock.now(), this.idleMs)).catch(() => {});
    this.sweepTimer = clock.setTimeout(() => this.sweep(), 10 * 60_000);
  }
}
