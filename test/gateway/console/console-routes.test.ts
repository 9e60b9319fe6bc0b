import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../config/load.ts';
import { AuditLog } from '../../../gateway/audit/audit-log.ts';
import { installAccessControl, SESSION_COOKIE } from '../../../gateway/auth/access.ts';
import { AuthService } from '../../../gateway/auth/auth-service.ts';
import { ImageSources } from '../../../gateway/console/images.ts';
import { FakeClock } from '../../../gateway/core/clock.ts';
import { silentLogger } from '../../../gateway/core/logger.ts';
import { Metrics } from '../../../gateway/core/metrics.ts';
import { CONSOLE_ROOT, consoleRoutes } from '../../../gateway/http/routes/console.ts';
import { SiteModel } from '../../../gateway/site/site-model.ts';
import { Store } from '../../../gateway/store/store.ts';
import { startGateway, testSite, type TestGateway } from '../../helpers/gateway.ts';
import { loginAs } from '../../helpers/login.ts';

describe('console files: served by the gateway, nothing from outside', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(await testSite());
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('serves every file of the console with a strict content security policy', async () => {
    const files = readdirSync(CONSOLE_ROOT);
    expect(files.sort()).toEqual(['app.css', 'app.js', 'commissioning.js', 'i18n.js', 'index.html']);
    for (const file of files) {
      const res = await fetch(`${gw.httpUrl}/${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(CONSOLE_ROOT, file))), file).toBe(true);
    }
    const index = await fetch(`${gw.httpUrl}/`);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(await index.text()).toContain('<script type="module" src="/app.js">');
  });

  it('references no asset on another host (works offline, no CDN)', () => {
    for (const file of readdirSync(CONSOLE_ROOT)) {
      const text = readFileSync(join(CONSOLE_ROOT, file), 'utf8');
      expect(text, file).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\//i);
      expect(text, file).not.toMatch(/url\(\s*["']?(https?:)?\/\//i);
      expect(text, file).not.toMatch(/import[^'"]*['"]https?:/);
    }
  });

  it('the config view hides secrets and reduces personal data to counts', async () => {
    const admin = await loginAs(gw, 'admin');
    const body = await (await fetch(`${gw.httpUrl}/api/config`, { headers: admin.headers })).json() as any;
    const text = JSON.stringify(body);
    expect(text).not.toMatch(/scrypt\$/);
    expect(text).not.toContain('张三');
    expect(text).not.toContain('6666');
    expect(body.config.registry).toEqual({ residents: 2, visitors: 0 });
    expect(body.config.watchlist).toBe(2);
    expect(body.config.devices[0].secretHash).toBe('[redacted]');
    expect(body.config.site.communityGridCode).toBe('CG350102001');
  });

  it('the site summary the console draws from', async () => {
    const guard = await loginAs(gw, 'guard');
    const site = await (await fetch(`${gw.httpUrl}/api/console/site`, { headers: guard.headers })).json() as any;
    expect(site).toMatchObject({ communityName: '测试小区', language: 'zh-CN', gates: [{ id: 'gate-1', name: '1号门' }, { id: 'gate-2', name: '2号门' }] });
  });
});

describe('evidence images: only through a registered source, only logged in, always audited', () => {
  it('serves a registered image to a guard and records the view; 404 for an unknown one', async () => {
    const site = await testSite();
    const { config } = loadConfigText(stringify(site), 'site.yaml');
    const store = Store.open(join(config.storage.dataDir, 'gridguard.db'));
    const clock = new FakeClock();
    const auth = new AuthService({ store, config: config.console, clock, metrics: new Metrics(), log: silentLogger(), apiTokenFile: null });
    const audit = new AuditLog({ store, clock });
    const images = new ImageSources();
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
    images.use({ get: async (id) => (id === 'img-1' ? { contentType: 'image/jpeg', data: jpeg } : null) });
    const app = Fastify();
    await installAccessControl(app, { auth, metrics: new Metrics(), log: silentLogger(), metricsAccess: 'loopback' });
    await consoleRoutes({ store, site: new SiteModel(config), config, audit, images, language: 'zh-CN' })(app);
    auth.start();
    await auth.createUser({ username: 'guard9', role: 'guard', password: 'long enough pw' });
    await auth.createUser({ username: 'fitter', role: 'installer', password: 'long enough pw' });
    const cookie = async (u: string) => `${SESSION_COOKIE}=${(await auth.login(u, 'long enough pw', null))!.token}`;

    expect((await app.inject({ url: '/api/images/img-1' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/api/images/img-1', headers: { cookie: await cookie('fitter') } })).statusCode).toBe(403);
    const res = await app.inject({ url: '/api/images/img-1?why=alert%20A1', headers: { cookie: await cookie('guard9') } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/jpeg');
    expect(res.headers['cache-control']).toBe('private, no-store');
    expect(res.rawPayload.equals(jpeg)).toBe(true);
    expect((await app.inject({ url: '/api/images/img-2', headers: { cookie: await cookie('guard9') } })).statusCode).toBe(404);
    expect(audit.list({ action: 'view.image' })).toEqual([expect.objectContaining({ actor: 'guard9', target: 'img-1', reason: 'alert A1' })]);

    // The board's thumbnail: found through the alert's evidence event, audited with the alert as the reason.
    const codes = { addressCode: 'AC3501020002', communityGridCode: 'CG350102001', policeGridCode: 'PG350102600102' };
    const place = { gate: 'gate-2', label: '2号门' };
    const at = new Date(clock.now()).toISOString();
    const event = { id: 'ev-1', deviceTime: at, receivedAt: at, deviceId: 'cam-1', deviceKind: 'camera' as const, type: 'plate.captured' as const, codes, place, subjects: { plate: '闽A88888' }, payload: { imageId: 'img-1' } };
    store.events.insert(event);
    const base = { ruleType: 'watchlist-hit', severity: 'high' as const, category: 'police' as const, status: 'new' as const, raisedAt: at, updatedAt: at, codes, place, deviceId: 'cam-1', subject: null, message: 'x', details: {}, mergeKey: 'k', occurrences: 1, lastTriggeredAt: at, transitions: [] };
    store.alerts.save({ ...base, id: 'A2', ruleId: 'watchlist-hit', evidence: ['ev-1'] }, 'raised');
    store.alerts.save({ ...base, id: 'A3', ruleId: 'door-forced', mergeKey: 'k3', evidence: ['no-such-event'] }, 'raised');
    const guardCookie = await cookie('guard9');
    const thumb = await app.inject({ url: '/api/alerts/A2/thumbnail', headers: { cookie: guardCookie } });
    expect(thumb.statusCode).toBe(200);
    expect(thumb.rawPayload.equals(jpeg)).toBe(true);
    expect(thumb.headers['cache-control']).toBe('private, max-age=3600');
    expect((await app.inject({ url: '/api/alerts/A3/thumbnail', headers: { cookie: guardCookie } })).statusCode).toBe(404);
    expect((await app.inject({ url: '/api/alerts/A2/thumbnail' })).statusCode).toBe(401);
    expect(audit.list({ action: 'view.image' })[0]).toMatchObject({ actor: 'guard9', target: 'img-1', reason: 'alert A2' });
    auth.stop();
    await app.close();
    store.close();
  });
});
