import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConsoleSchema } from '../../../config/schema/console.ts';
import { installAccessControl, SESSION_COOKIE } from '../../../gateway/auth/access.ts';
import { AuthError, AuthService } from '../../../gateway/auth/auth-service.ts';
import { FakeClock } from '../../../gateway/core/clock.ts';
import { silentLogger } from '../../../gateway/core/logger.ts';
import { Metrics } from '../../../gateway/core/metrics.ts';
import { Store } from '../../../gateway/store/store.ts';

describe('AuthService: users and sessions', () => {
  let store: Store;
  let clock: FakeClock;
  let auth: AuthService;

  beforeEach(() => {
    const dir = mkdtempSync(join(tmpdir(), 'gg-auth-'));
    store = Store.open(join(dir, 'gridguard.db'));
    clock = new FakeClock();
    auth = new AuthService({
      store,
      config: ConsoleSchema.parse({ sessionIdleMinutes: 30, sessionMaxHours: 2 }),
      clock,
      metrics: new Metrics(),
      log: silentLogger(),
      apiTokenFile: join(dir, 'api-token'),
    });
    auth.start();
  });
  afterEach(() => {
    auth.stop();
    store.close();
  });

  it('stores only a scrypt hash of the password and opens a session with the right one', async () => {
    await auth.createUser({ username: 'zhang', role: 'guard', password: 'correct horse 1' });
    const row = store.db.prepare('SELECT password_hash FROM users WHERE username = ?').get('zhang') as { password_hash: string };
    expect(row.password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(row.password_hash).not.toContain('correct horse');
    expect(await auth.login('zhang', 'wrong password', '127.0.0.1')).toBeNull();
    expect(await auth.login('nobody', 'correct horse 1', '127.0.0.1')).toBeNull();
    const session = await auth.login('ZHANG', 'correct horse 1', '127.0.0.1');
    expect(session?.user.username).toBe('zhang');
    expect(auth.resolveSession(session!.token)).toMatchObject({ username: 'zhang', role: 'guard', via: 'session' });
    // The database keeps a hash of the token, never the token.
    const stored = store.db.prepare('SELECT token_hash FROM sessions').all() as { token_hash: string }[];
    expect(stored).toHaveLength(1);
    expect(stored[0]!.token_hash).not.toBe(session!.token);
  });

  it('refuses short passwords, bad user names and duplicates with a clear reason', async () => {
    await expect(auth.createUser({ username: 'li', role: 'guard', password: 'short' })).rejects.toThrow(/at least 10 characters/);
    await expect(auth.createUser({ username: 'bad name!', role: 'guard', password: 'long enough pw' })).rejects.toThrow(/user name/);
    await auth.createUser({ username: 'li', role: 'guard', password: 'long enough pw' });
    await expect(auth.createUser({ username: 'LI', role: 'admin', password: 'long enough pw' })).rejects.toThrow(AuthError);
  });

  it('ends a session after the idle time, and at the maximum age even when used', async () => {
    await auth.createUser({ username: 'wang', role: 'guard', password: 'long enough pw' });
    const idle = (await auth.login('wang', 'long enough pw', null))!;
    clock.advance(29 * 60_000);
    expect(auth.resolveSession(idle.token)).not.toBeNull();
    await store.writes.write(() => {}); // let the throttled last-seen update commit
    clock.advance(29 * 60_000);
    expect(auth.resolveSession(idle.token)).not.toBeNull(); // used 29 min ago: still alive
    clock.advance(31 * 60_000);
    expect(auth.resolveSession(idle.token)).toBeNull();

    const busy = (await auth.login('wang', 'long enough pw', null))!;
    for (let i = 0; i < 8; i++) {
      clock.advance(20 * 60_000);
      const alive = auth.resolveSession(busy.token);
      await store.writes.write(() => {});
      if (i < 5) expect(alive, `after ${(i + 1) * 20} min`).not.toBeNull();
      else expect(alive, `after ${(i + 1) * 20} min (max age 2 h)`).toBeNull();
    }
  });

  it('disabling a user or changing their password ends their sessions; the last admin stays', async () => {
    const admin = await auth.createUser({ username: 'admin1', role: 'admin', password: 'long enough pw' });
    const guard = await auth.createUser({ username: 'guard1', role: 'guard', password: 'long enough pw' });
    const s1 = (await auth.login('guard1', 'long enough pw', null))!;
    await auth.updateUser(guard.id, { disabled: true });
    expect(auth.resolveSession(s1.token)).toBeNull();
    expect(await auth.login('guard1', 'long enough pw', null)).toBeNull();
    await auth.updateUser(guard.id, { disabled: false });
    const s2 = (await auth.login('guard1', 'long enough pw', null))!;
    await auth.updateUser(guard.id, { password: 'another long pw' });
    expect(auth.resolveSession(s2.token)).toBeNull();
    expect(await auth.login('guard1', 'another long pw', null)).not.toBeNull();
    await expect(auth.updateUser(admin.id, { role: 'guard' })).rejects.toThrow(/last active admin/);
    await expect(auth.updateUser(admin.id, { disabled: true })).rejects.toThrow(/last active admin/);
  });

  it('logout ends the session', async () => {
    await auth.createUser({ username: 'zhao', role: 'installer', password: 'long enough pw' });
    const s = (await auth.login('zhao', 'long enough pw', null))!;
    await auth.logout(s.token);
    expect(auth.resolveSession(s.token)).toBeNull();
  });

  it('the access hook refuses an /api route that declares no access policy (fails closed)', async () => {
    const app = Fastify();
    await installAccessControl(app, { auth, metrics: new Metrics(), log: silentLogger(), metricsAccess: 'loopback' });
    app.get('/api/forgotten', async () => ({ secret: true }));
    app.get('/api/declared', { config: { access: 'alerts' } }, async () => ({ ok: true }));
    app.post('/api/change', { config: { access: 'alerts' } }, async () => ({ ok: true }));
    await auth.createUser({ username: 'admin2', role: 'admin', password: 'long enough pw' });
    const s = (await auth.login('admin2', 'long enough pw', null))!;
    const cookie = `${SESSION_COOKIE}=${s.token}`;
    const forgotten = await app.inject({ url: '/api/forgotten', headers: { cookie } });
    expect(forgotten.statusCode).toBe(403);
    expect(forgotten.json().error).toMatch(/declares no access policy/);
    expect((await app.inject({ url: '/api/declared', headers: { cookie } })).statusCode).toBe(200);
    // A state-changing request from another site's page is refused even with the cookie.
    const cross = await app.inject({ method: 'POST', url: '/api/change', headers: { cookie, origin: 'http://evil.example', host: 'gw.local:8080' }, payload: {} });
    expect(cross.statusCode).toBe(403);
    const same = await app.inject({ method: 'POST', url: '/api/change', headers: { cookie, origin: 'http://gw.local:8080', host: 'gw.local:8080' }, payload: {} });
    expect(same.statusCode).toBe(200);
    await app.close();
  });
});
