import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, publishEvent, startGateway, testSite, type TestGateway } from '../../helpers/gateway.ts';
import { loginAs } from '../../helpers/login.ts';
import { waitFor } from '../../helpers/net.ts';

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('login, logout and alert transitions over HTTP', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(await testSite({ console: { loginAttemptsPerMinute: 3 } }));
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('sets an HttpOnly SameSite=Strict session cookie and ends it at logout', async () => {
    const guard = await loginAs(gw, 'guard');
    const res = await fetch(`${gw.httpUrl}/api/auth/login`, json({ username: guard.username, password: guard.password }));
    expect(res.status).toBe(200);
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^gg_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    expect(setCookie).toMatch(/Path=\//);
    expect(await res.json() as any).toMatchObject({ user: { username: guard.username, role: 'guard' }, permissions: expect.arrayContaining(['alerts', 'events']) });
    const cookie = setCookie.split(';')[0]!;
    expect((await fetch(`${gw.httpUrl}/api/auth/me`, { headers: { cookie } })).status).toBe(200);
    const out = await fetch(`${gw.httpUrl}/api/auth/logout`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{}' });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/gg_session=;/);
    expect((await fetch(`${gw.httpUrl}/api/auth/me`, { headers: { cookie } })).status).toBe(401);
  });

  it('refuses wrong passwords with 401 and rate-limits repeated attempts with 429 per user name', async () => {
    const guard = await loginAs(gw, 'guard');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await fetch(`${gw.httpUrl}/api/auth/login`, json({ username: guard.username, password: `wrong-${i}` }))).status);
    // Three attempts a minute: loginAs used one, so two wrong guesses are answered, then 429.
    expect(statuses).toEqual([401, 401, 429, 429, 429]);
    // Even the right password waits out the window, and says so.
    const limited = await fetch(`${gw.httpUrl}/api/auth/login`, json({ username: guard.username, password: guard.password }));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another guard on the same guard-room PC is not locked out.
    const other = await loginAs(gw, 'guard');
    expect((await fetch(`${gw.httpUrl}/api/auth/me`, { headers: other.headers })).status).toBe(200);
  });

  it('a transition is made by the session user; a body naming someone else is refused; closing needs a note', async () => {
    const guard = await loginAs(gw, 'guard');
    const device = await connectDevice(gw.mqttUrl, 'ac-1');
    await publishEvent(device, 'ac-1', { type: 'door.forced' });
    await device.endAsync();
    const alert = await waitFor(() => gw.gateway.services.store.alerts.list().find((a) => a.ruleId === 'door-forced'), 'door-forced alert');
    const post = (body: unknown) =>
      fetch(`${gw.httpUrl}/api/alerts/${alert.id}/transition`, { method: 'POST', headers: { ...guard.headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });

    const forged = await post({ to: 'acknowledged', by: 'someone-else' });
    expect(forged.status).toBe(400);
    expect((await forged.json() as any).error).toMatch(/by must be the logged-in user/);

    const ack = await post({ to: 'acknowledged' });
    expect(ack.status).toBe(200);
    expect((await ack.json() as any).alert.transitions.at(-1)).toMatchObject({ from: 'new', to: 'acknowledged', by: guard.username, source: 'local' });

    const noNote = await post({ to: 'resolved' });
    expect(noNote.status).toBe(409);
    expect((await noNote.json() as any).code).toBe('note-required');
    const resolved = await post({ to: 'resolved', note: '保安已到场，门已关好', by: guard.username });
    expect(resolved.status).toBe(200);
    expect(gw.gateway.services.store.alerts.get(alert.id)).toMatchObject({ status: 'resolved' });
    expect(gw.gateway.services.store.alerts.get(alert.id)!.transitions.at(-1)).toMatchObject({ by: guard.username, note: '保安已到场，门已关好' });
  });

  it('changing one\'s own password needs the current one and ends the session', async () => {
    const guard = await loginAs(gw, 'guard');
    const change = (current: string, password: string) =>
      fetch(`${gw.httpUrl}/api/auth/password`, { method: 'POST', headers: { ...guard.headers, 'content-type': 'application/json' }, body: JSON.stringify({ current, password }) });
    expect((await change('not-the-password', 'a brand new password')).status).toBe(403);
    expect((await change(guard.password, 'short')).status).toBe(400);
    expect((await change(guard.password, 'a brand new password')).status).toBe(200);
    expect((await fetch(`${gw.httpUrl}/api/auth/me`, { headers: guard.headers })).status).toBe(401);
    expect((await fetch(`${gw.httpUrl}/api/auth/login`, json({ username: guard.username, password: 'a brand new password' }))).status).toBe(200);
  });

  it('an admin creates, disables and re-enables users; a disabled user\'s session ends at once', async () => {
    const admin = await loginAs(gw, 'admin');
    const send = (method: string, path: string, body: unknown) =>
      fetch(`${gw.httpUrl}${path}`, { method, headers: { ...admin.headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const created = await send('POST', '/api/users', { username: 'night-guard', displayName: '夜班保安', role: 'guard', password: 'night shift pw 1' });
    expect(created.status).toBe(201);
    const { user } = await created.json() as any;
    expect(user).not.toHaveProperty('passwordHash');
    expect((await send('POST', '/api/users', { username: 'night-guard', role: 'guard', password: 'night shift pw 1' })).status).toBe(409);
    expect((await send('POST', '/api/users', { username: 'x2', role: 'guard', password: 'short' })).status).toBe(400);
    const login = await fetch(`${gw.httpUrl}/api/auth/login`, json({ username: 'night-guard', password: 'night shift pw 1' }));
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    expect((await send('PATCH', `/api/users/${user.id}`, { disabled: true })).status).toBe(200);
    expect((await fetch(`${gw.httpUrl}/api/alerts`, { headers: { cookie } })).status).toBe(401);
    const list = await (await fetch(`${gw.httpUrl}/api/users`, { headers: admin.headers })).json() as any;
    expect(list.users.find((u: { username: string }) => u.username === 'night-guard')).toMatchObject({ disabled: true, displayName: '夜班保安' });
    expect(JSON.stringify(list)).not.toMatch(/scrypt\$/);
  });
});
