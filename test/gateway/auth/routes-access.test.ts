import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roleMay, type Access, type Role } from '../../../gateway/auth/roles.ts';
import { startGateway, testSite, type TestGateway } from '../../helpers/gateway.ts';
import { loginAs, type LoggedIn } from '../../helpers/login.ts';

/** Every route the gateway serves, what it needs, and a request that is valid enough to pass auth. */
const ROUTES: { method: string; path: string; access: Access; body?: unknown }[] = [
  { method: 'GET', path: '/api/status', access: 'status' },
  { method: 'GET', path: '/api/alerts', access: 'alerts' },
  { method: 'GET', path: '/api/alerts/stream', access: 'alerts' },
  { method: 'GET', path: '/api/alerts/no-such-alert', access: 'alerts' },
  { method: 'POST', path: '/api/alerts/no-such-alert/transition', access: 'alerts', body: { to: 'acknowledged' } },
  { method: 'GET', path: '/api/devices', access: 'devices' },
  { method: 'POST', path: '/api/devices/no-such-device/commands', access: 'commands', body: { type: 'ping' } },
  { method: 'GET', path: '/api/events', access: 'events' },
  { method: 'GET', path: '/api/events/export?reason=route%20test', access: 'events' },
  { method: 'GET', path: '/api/people/watchlist', access: 'people' },
  { method: 'GET', path: '/api/people/care', access: 'people' },
  { method: 'GET', path: '/api/people/p1', access: 'people' },
  { method: 'GET', path: '/api/images/no-such-image', access: 'alerts' },
  { method: 'GET', path: '/api/alerts/no-such-alert/thumbnail', access: 'alerts' },
  { method: 'GET', path: '/api/config', access: 'config' },
  { method: 'GET', path: '/api/audit', access: 'audit' },
  { method: 'GET', path: '/api/users', access: 'users' },
  { method: 'POST', path: '/api/users', access: 'users', body: { username: 'x' } },
  { method: 'PATCH', path: '/api/users/no-such-user', access: 'users', body: { displayName: 'x' } },
  { method: 'GET', path: '/api/commissioning', access: 'devices' },
  { method: 'POST', path: '/api/commissioning/no-such-device/test', access: 'commands', body: {} },
  { method: 'PUT', path: '/api/faces/gallery/no-such-face', access: 'biometrics', body: {} },
  { method: 'DELETE', path: '/api/faces/gallery/no-such-face', access: 'biometrics' },
  { method: 'GET', path: '/api/console/site', access: 'session' },
  { method: 'GET', path: '/api/auth/me', access: 'session' },
  { method: 'POST', path: '/api/auth/password', access: 'session', body: {} },
  { method: 'POST', path: '/api/auth/logout', access: 'session', body: {} },
  { method: 'GET', path: '/healthz', access: 'public' },
  { method: 'GET', path: '/', access: 'public' },
  { method: 'GET', path: '/app.js', access: 'public' },
];

async function call(gw: TestGateway, route: (typeof ROUTES)[number], headers: Record<string, string> = {}): Promise<number> {
  const controller = new AbortController();
  const res = await fetch(`${gw.httpUrl}${route.path}`, {
    method: route.method,
    headers: { ...headers, ...(route.body ? { 'content-type': 'application/json' } : {}) },
    ...(route.body ? { body: JSON.stringify(route.body) } : {}),
    signal: controller.signal,
  });
  // The SSE stream never ends: the status line is all we need.
  controller.abort();
  return res.status;
}

describe('every route refuses without a session (401) and with the wrong role (403)', () => {
  let gw: TestGateway;
  const sessions = {} as Record<Role, LoggedIn>;

  beforeAll(async () => {
    gw = await startGateway(await testSite());
    for (const role of ['guard', 'installer', 'admin'] as const) sessions[role] = await loginAs(gw, role);
  });
  afterAll(async () => {
    await gw?.stop();
  });

  for (const route of ROUTES) {
    it(`${route.method} ${route.path} (${route.access})`, async () => {
      const anonymous = await call(gw, route);
      if (route.access === 'public') {
        expect(anonymous).toBe(200);
        return;
      }
      expect(anonymous).toBe(401);
      // A forged cookie is no session.
      expect(await call(gw, route, { cookie: 'gg_session=forged-token-value' })).toBe(401);
      for (const role of ['guard', 'installer', 'admin'] as const) {
        // Logging out must not end the session the other routes still use.
        const who = route.path === '/api/auth/logout' ? await loginAs(gw, role) : sessions[role];
        const status = await call(gw, route, who.headers);
        const allowed = route.access === 'session' || roleMay(role, route.access as never);
        if (allowed) expect([401, 403], `${role} should pass ${route.path}, got ${status}`).not.toContain(status);
        else expect(status, `${role} must be refused ${route.path}`).toBe(403);
      }
    });
  }

  it('/metrics answers loopback clients without a session (console.metrics: loopback, the default)', async () => {
    const res = await fetch(`${gw.httpUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('gridguard_rejected_inputs_total');
  });

  it('counts refused requests by reason', async () => {
    const text = await (await fetch(`${gw.httpUrl}/metrics`)).text();
    expect(text).toMatch(/gridguard_rejected_inputs_total\{source="http",reason="no-session"\} [1-9]/);
    expect(text).toMatch(/gridguard_rejected_inputs_total\{source="http",reason="forbidden"\} [1-9]/);
  });

  it('an unknown /api path is a 404, not a login prompt', async () => {
    expect((await fetch(`${gw.httpUrl}/api/nothing-here`)).status).toBe(404);
  });
});

describe('console.metrics: token', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(await testSite({ console: { metrics: 'token' } }));
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('refuses /metrics without the token, serves it with the local API token or an admin session, not a guard', async () => {
    expect((await fetch(`${gw.httpUrl}/metrics`)).status).toBe(401);
    const { readFileSync, statSync } = await import('node:fs');
    const tokenFile = `${gw.dataDir}/api-token`;
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    expect((await fetch(`${gw.httpUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await fetch(`${gw.httpUrl}/metrics`, { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401);
    expect((await fetch(`${gw.httpUrl}/metrics`, { headers: (await loginAs(gw, 'admin')).headers })).status).toBe(200);
    expect((await fetch(`${gw.httpUrl}/metrics`, { headers: (await loginAs(gw, 'guard')).headers })).status).toBe(403);
  });

  it('the local API token reaches /api/status for the CLI', async () => {
    const { readFileSync } = await import('node:fs');
    const token = readFileSync(`${gw.dataDir}/api-token`, 'utf8').trim();
    const res = await fetch(`${gw.httpUrl}/api/status`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect((await res.json() as any).gatewayId).toBe('gw-test-1');
  });
});
