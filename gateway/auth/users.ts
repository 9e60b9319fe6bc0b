import type { Database, Statement } from 'better-sqlite3';
import type { Role } from './roles.ts';

export interface User {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
}

interface UserRow {
  id: string;
  username: string;
  display_name: string;
  role: Role;
  password_hash: string;
  disabled: number;
  created_ms: number;
  updated_ms: number;
}

function toUser(r: UserRow): User {
  return {
    id: r.id,
    username: r.username,
    displayName: r.display_name,
    role: r.role,
    disabled: r.disabled === 1,
    createdAt: new Date(r.created_ms).toISOString(),
    updatedAt: new Date(r.updated_ms).toISOString(),
  };
}

/** Console users. Passwords arrive here already hashed (gateway/core/secrets.ts). */
export class UsersRepo {
  private byName: Statement;
  private byId: Statement;
  private insertStmt: Statement;

  constructor(private readonly db: Database) {
    this.byName = db.prepare('SELECT * FROM users WHERE username = ?');
    this.byId = db.prepare('SELECT * FROM users WHERE id = ?');
    this.insertStmt = db.prepare(
      'INSERT INTO users (id, username, display_name, role, password_hash, disabled, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, 0, ?, ?)',
    );
  }

  insert(u: { id: string; username: string; displayName: string; role: Role; passwordHash: string }, nowMs: number): User {
    this.insertStmt.run(u.id, u.username, u.displayName, u.role, u.passwordHash, nowMs, nowMs);
    return this.get(u.id)!;
  }

  get(id: string): User | undefined {
    const row = this.byId.get(id) as UserRow | undefined;
    return row ? toUser(row) : undefined;
  }

  findByUsername(username: string): (User & { passwordHash: string }) | undefined {
    const row = this.byName.get(username) as UserRow | undefined;
    return row ? { ...toUser(row), passwordHash: row.password_hash } : undefined;
  }

  list(): User[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY username').all() as UserRow[]).map(toUser);
  }

  update(id: string, change: { displayName?: string; role?: Role; disabled?: boolean; passwordHash?: string }, nowMs: number): User | undefined {
    const sets: string[] = ['updated_ms = ?'];
    const args: unknown[] = [nowMs];
    if (change.displayName !== undefined) (sets.push('display_name = ?'), args.push(change.displayName));
    if (change.role !== undefined) (sets.push('role = ?'), args.push(change.role));
    if (change.disabled !== undefined) (sets.push('disabled = ?'), args.push(change.disabled ? 1 : 0));
    if (change.passwordHash !== undefined) (sets.push('password_hash = ?'), args.push(change.passwordHash));
    this.db.prepare(`UPDATE users SET ${sets.join(', ')} WHERE id = ?`).run(...args, id);
    return this.get(id);
  }

  countAdmins(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0").get() as { n: number }).n;
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
  }
}

/** Session rows; the token itself is never stored, only its SHA-256. */
export class SessionsRepo {
  private insertStmt: Statement;
  private getStmt: Statement;
  private touchStmt: Statement;
  private deleteStmt: Statement;

  constructor(private readonly db: Database) {
    this.insertStmt = db.prepare('INSERT INTO sessions (token_hash, user_id, created_ms, last_seen_ms, expires_ms, ip) VALUES (?, ?, ?, ?, ?, ?)');
    this.getStmt = db.prepare('SELECT user_id, created_ms, last_seen_ms, expires_ms FROM sessions WHERE token_hash = ?');
    this.touchStmt = db.prepare('UPDATE sessions SET last_seen_ms = ? WHERE token_hash = ?');
    this.deleteStmt = db.prepare('DELETE FROM sessions WHERE token_hash = ?');
  }

  insert(tokenHash: string, userId: string, nowMs: number, expiresMs: number, ip: string | null): void {
    this.insertStmt.run(tokenHash, userId, nowMs, nowMs, expiresMs, ip);
  }

  get(tokenHash: string): { userId: string; createdMs: number; lastSeenMs: number; expiresMs: number } | undefined {
    const r = this.getStmt.get(tokenHash) as { user_id: string; created_ms: number; last_seen_ms: number; expires_ms: number } | undefined;
    return r ? { userId: r.user_id, createdMs: r.created_ms, lastSeenMs: r.last_seen_ms, expiresMs: r.expires_ms } : undefined;
  }

  touch(tokenHash: string, nowMs: number): void {
    this.touchStmt.run(nowMs, tokenHash);
  }

  delete(tokenHash: string): void {
    this.deleteStmt.run(tokenHash);
  }

  deleteForUser(userId: string): void {
    this.db.prepare('DELETE FROM sessions WHERE user_id = ?').run(userId);
  }

  deleteExpired(nowMs: number, idleMs: number): number {
    return this.db.prepare('DELETE FROM sessions WHERE expires_ms <= ? OR last_seen_ms <= ?').run(nowMs, nowMs - idleMs).changes;
  }

  countForUser(userId: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?').get(userId) as { n: number }).n;
  }
}
