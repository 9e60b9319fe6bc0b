import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, loginInBrowser } from '../../helpers/browser.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertDraft } from '../../../gateway/alerts/alert-service.ts';
import { Mosquitto } from '../../helpers/mosquitto.ts';
import { connectDevice, publishEvent, startGateway, testSite, type TestGateway } from '../../helpers/gateway.ts';
import { loginAs, type LoggedIn } from '../../helpers/login.ts';
import { freePort, waitFor } from '../../helpers/net.ts';
import { requireTool } from '../../helpers/tools.ts';

const haveTools = requireTool('chromium', 'chromium') && requireTool('mosquitto', 'mosquitto');
export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'console');

/** expect.poll with a deadline fit for a shared, busy machine (its default is one second). */
const poll = <T>(fn: () => T | Promise<T>, timeout = 20_000) => expect.poll(fn, { timeout, interval: 50 });


function draft(i: number): AlertDraft {
  return {
    ruleId: 'alarm',
    ruleType: 'alarm',
    severity: i % 4 === 0 ? 'critical' : 'medium',
    category: 'property',
    message: `测试告警 #${i} 1号楼1单元101 烟感报警`,
    details: {},
    mergeKey: `burst-${i}`,
    cooldownMs: 60_000,
    evidence: [],
    deviceId: 'smoke-1',
    place: { building: 'b1', unit: 'u1', house: 'h101', label: '1号楼1单元101' },
    codes: { addressCode: 'AC3501020101101', communityGridCode: 'CG350102001', policeGridCode: 'PG350102600102' },
    subject: null,
  };
}

const login = loginInBrowser;

describe.skipIf(!haveTools)('guard-room console in headless Chromium: the closed loop of an alert', () => {
  const platform = new Mosquitto();
  let site: Record<string, unknown>;
  let gw: TestGateway;
  let browser: Browser;
  let page: Page;
  let guard: LoggedIn;
  let platformClient: mqtt.MqttClient;
  const platformMessages: { topic: string; body: any }[] = [];
  const root = 'grid/v1/CG350102001/gw-test-1';

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await platform.start();
    platformClient = await mqtt.connectAsync(platform.url, { clientId: 'platform-console-test', protocolVersion: 5 });
    platformClient.on('message', (topic, payload) => platformMessages.push({ topic, body: JSON.parse(payload.toString()) }));
    await platformClient.subscribeAsync('grid/v1/#', { qos: 1 });
    // A fixed HTTP port, so that the browser finds the gateway again after a restart.
    site = await testSite({ platform: { url: platform.url, reconnectMinMs: 100, reconnectMaxMs: 1000 }, http: { host: '127.0.0.1', port: await freePort() } });
    gw = await startGateway(site);
    guard = await loginAs(gw, 'guard', 'guard-wang');
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 820 }, locale: 'zh-CN' });
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await platformClient?.endAsync();
    await platform.stop();
  });

  it('a guard logs in, sees a forced door appear live, acknowledges and resolves it with a note; store and platform agree', async () => {
    await page.goto(`${gw.httpUrl}/`);
    await page.locator('#login-form').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'login.png') });
    // A wrong password is refused on the page, not with a crash.
    await page.fill('#username', guard.username);
    await page.fill('#password', 'not the password');
    await page.click('#login-form button[type=submit]');
    await poll(() => page.textContent('#login-error')).toBe('用户名或密码错误');
    await login(page, gw.httpUrl, guard);
    await page.locator('#board').waitFor();
    await poll(() => page.textContent('#live')).toContain('实时');

    const device = await connectDevice(gw.mqttUrl, 'ac-1');
    await publishEvent(device, 'ac-1', { type: 'door.forced' });
    await device.endAsync();
    const card = page.locator('.alert[data-severity="high"]', { hasText: '1号门' });
    await card.waitFor({ timeout: 30_000 });
    const alertId = (await card.getAttribute('data-id'))!;
    expect(await card.textContent()).toContain('门被强行打开');
    expect(await card.textContent()).toContain('AC3501020001'); // the three codes
    expect(await card.textContent()).toContain('PG350102600102');
    await poll(() => page.evaluate(() => Number((globalThis as any).document.body.dataset.beeps || 0))).toBeGreaterThanOrEqual(1);
    await page.screenshot({ path: join(ARTIFACTS, 'alerts.png') });

    await card.locator('[data-action="acknowledge"]').click();
    await waitFor(() => gw.gateway.services.store.alerts.get(alertId)?.status === 'acknowledged', 'acknowledged in the store', 30_000);
    await poll(() => page.locator(`.alert[data-id="${alertId}"]`).getAttribute('data-status')).toBe('acknowledged');

    await page.locator(`.alert[data-id="${alertId}"]`).click();
    await page.locator('#timeline').waitFor();
    // Resolving without a note is stopped in the page; the alert stays acknowledged.
    await page.click('[data-action="resolve"]');
    await poll(() => page.textContent('#toast')).toContain('需要填写处置说明');
    expect(gw.gateway.services.store.alerts.get(alertId)?.status).toBe('acknowledged');
    await page.fill('#note', '保安已到场核实，门已关好');
    await page.screenshot({ path: join(ARTIFACTS, 'alert-detail.png') });
    await page.click('[data-action="resolve"]');
    await waitFor(() => gw.gateway.services.store.alerts.get(alertId)?.status === 'resolved', 'resolved in the store', 30_000);
    await poll(() => page.locator('#timeline li').count()).toBe(3);
    const timeline = await page.textContent('#timeline');
    expect(timeline).toContain('guard-wang');
    expect(timeline).toContain('保安已到场核实，门已关好');
    await page.screenshot({ path: join(ARTIFACTS, 'alert-resolved.png') });

    const stored = gw.gateway.services.store.alerts.get(alertId)!;
    expect(stored.transitions.map((t) => [t.to, t.by])).toEqual([
      ['new', 'rule:door-forced'],
      ['acknowledged', 'guard-wang'],
      ['resolved', 'guard-wang'],
    ]);
    const updates = await waitFor(() => {
      const items = platformMessages.filter((m) => m.topic === `${root}/alert-updates`).flatMap((m) => m.body.items).filter((i: any) => i.alertId === alertId);
      return items.some((i: any) => i.status === 'resolved') ? items : null;
    }, 'the resolution on the platform broker', 30_000);
    expect(updates.find((i: any) => i.status === 'resolved').transition).toMatchObject({ from: 'acknowledged', to: 'resolved', by: 'guard-wang', note: '保安已到场核实，门已关好', source: 'local' });
    expect(updates.some((i: any) => i.status === 'acknowledged')).toBe(true);
  }, 180_000);

  it('a disposition the grid platform sends back shows up live on the open alert', async () => {
    const device = await connectDevice(gw.mqttUrl, 'ac-2');
    await publishEvent(device, 'ac-2', { type: 'door.forced' });
    await device.endAsync();
    const alert = await waitFor(() => gw.gateway.services.store.alerts.list().find((a) => a.ruleId === 'door-forced' && a.deviceId === 'ac-2'), 'ac-2 alert', 30_000);
    await page.goto(`${gw.httpUrl}/#/alerts/${alert.id}`);
    await page.locator('#timeline').waitFor();
    // The path cloud-sync's alert.disposition command takes (cloud-sync/commands.ts).
    await gw.gateway.services.alerts.transition(alert.id, 'dispatched', { by: 'platform:grid-center', note: '网格员已接单', source: 'platform' });
    await poll(() => page.locator('#timeline li').count()).toBe(2);
    const last = await page.locator('#timeline li').nth(1).textContent();
    expect(last).toContain('platform:grid-center');
    expect(last).toContain('(平台)');
    expect(last).toContain('网格员已接单');
    expect(await page.locator('[data-action="resolve"]').count()).toBe(1);
  }, 180_000);

  it('no alert goes missing when the page reloads in the middle of a burst', async () => {
    await page.goto(`${gw.httpUrl}/#/alerts`);
    await page.locator('#board').waitFor();
    const raised: string[] = [];
    let reload: Promise<unknown> | null = null;
    for (let i = 1; i <= 24; i++) {
      raised.push((await gw.gateway.services.alerts.raise(draft(i))).id);
      if (i === 8) reload = page.reload();
      await new Promise((r) => setTimeout(r, 40));
    }
    await reload;
    await page.locator('#board').waitFor();
    await poll(async () => {
      const shown = new Set(await page.locator('.alert').evaluateAll((els) => els.map((e) => e.getAttribute('data-id'))));
      return raised.filter((id) => !shown.has(id));
    }).toEqual([]);
  }, 180_000);

  it('the stream resumes with Last-Event-ID after the gateway restarts: alerts raised before the browser reconnects arrive', async () => {
    await page.goto(`${gw.httpUrl}/#/alerts`);
    await page.locator('#board').waitFor();
    await poll(() => page.textContent('#live')).toContain('实时');
    await gw.stop();
    await poll(() => page.textContent('#live')).toContain('重连中');
    gw = await startGateway(site);
    // Raised at once, before the browser's retry (2 s) reconnects: only a resume can deliver them.
    const after = [(await gw.gateway.services.alerts.raise(draft(101))).id, (await gw.gateway.services.alerts.raise(draft(102))).id];
    for (const id of after) await page.locator(`.alert[data-id="${id}"]`).waitFor({ timeout: 30_000 });
    expect(await page.textContent('#live')).toContain('实时');
  }, 180_000);

  it('switches to English and back; other pages render for an admin (screenshots for the guide)', async () => {
    await page.click('#lang');
    await poll(() => page.textContent('#nav')).toContain('Alerts');
    await page.screenshot({ path: join(ARTIFACTS, 'alerts-en.png') });
    await page.click('#lang');
    await poll(() => page.textContent('#nav')).toContain('告警');

    await page.goto(`${gw.httpUrl}/#/events`);
    await page.locator('#events').waitFor();
    expect(await page.locator('#events tr').count()).toBeGreaterThan(1);
    await page.screenshot({ path: join(ARTIFACTS, 'events.png') });
    await page.goto(`${gw.httpUrl}/#/people`);
    await page.locator('#watchlist').waitFor();
    expect(await page.textContent('#watchlist')).toContain('在逃');
    await page.screenshot({ path: join(ARTIFACTS, 'people.png') });
    // A guard has no devices page.
    expect(await page.locator('#nav a[href="#/devices"]').count()).toBe(0);

    await page.click('#logout');
    await page.locator('#login-form').waitFor();
    // Two devices report in with their battery; the devices page shows them online.
    const ac1 = await connectDevice(gw.mqttUrl, 'ac-1');
    const smoke = await connectDevice(gw.mqttUrl, 'smoke-1');
    await ac1.publishAsync('devices/ac-1/heartbeat', JSON.stringify({ rssi: -61, firmware: '2.4.1' }), { qos: 1 });
    await smoke.publishAsync('devices/smoke-1/heartbeat', JSON.stringify({ battery: 15 }), { qos: 1 });
    const admin = await loginAs(gw, 'admin', 'admin-chen');
    await login(page, gw.httpUrl, admin);
    await page.goto(`${gw.httpUrl}/#/devices`);
    await page.locator('tr[data-device="ac-1"]').waitFor();
    expect(await page.locator('tr[data-device]').count()).toBe(5);
    await poll(() => page.locator('tr[data-device="smoke-1"]').getAttribute('data-online')).toBe('true');
    expect(await page.textContent('tr[data-device="smoke-1"]')).toContain('15%');
    expect(await page.locator('tr[data-device="cam-1"]').getAttribute('data-online')).toBe('false');
    await page.screenshot({ path: join(ARTIFACTS, 'devices.png') });
    await page.goto(`${gw.httpUrl}/#/audit`);
    await page.locator('#audit').waitFor();
    expect(await page.textContent('#audit')).toContain('view.watchlist');
    await page.screenshot({ path: join(ARTIFACTS, 'audit.png') });
    await page.goto(`${gw.httpUrl}/#/users`);
    await page.locator('#users').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'users.png') });
    await ac1.endAsync();
    await smoke.endAsync();
  }, 180_000);
});

describe.skipIf(!haveTools)('guard guide screenshots: a realistic evening at the guard room', () => {
  let gw: TestGateway;
  let browser: Browser;
  const GUIDE = join(ARTIFACTS, 'guide');

  beforeAll(async () => {
    mkdirSync(GUIDE, { recursive: true });
    gw = await startGateway(await testSite());
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
  });

  it('renders every page with real alerts from real devices', async () => {
    const devices = Object.fromEntries(await Promise.all(['ac-1', 'ac-2', 'dp-1', 'smoke-1', 'cam-1'].map(async (id) => [id, await connectDevice(gw.mqttUrl, id)] as const)));
    await devices['smoke-1']!.publishAsync('devices/smoke-1/heartbeat', JSON.stringify({ battery: 18 }), { qos: 1 });
    await devices['dp-1']!.publishAsync('devices/dp-1/heartbeat', JSON.stringify({ battery: 92 }), { qos: 1 });
    await publishEvent(devices['ac-1']!, 'ac-1', { type: 'access.granted', cardNo: '1001' });
    await publishEvent(devices['ac-2']!, 'ac-2', { type: 'access.granted', cardNo: '1002' });
    await publishEvent(devices['cam-1']!, 'cam-1', { type: 'plate.captured', plate: '闽A·12345' });
    await publishEvent(devices['ac-1']!, 'ac-1', { type: 'door.forced' });
    await publishEvent(devices['smoke-1']!, 'smoke-1', { type: 'sensor.smoke' });
    await publishEvent(devices['cam-1']!, 'cam-1', { type: 'plate.captured', plate: '闽A·88888' });
    await publishEvent(devices['ac-2']!, 'ac-2', { type: 'access.denied', cardNo: '6666' });
    const store = gw.gateway.services.store;
    await waitFor(() => store.alerts.list().length >= 4, 'four alerts', 30_000);
    await devices['cam-1']!.endAsync();
    const smoke = store.alerts.list().find((a) => a.deviceId === 'smoke-1')!;
    await gw.gateway.services.alerts.transition(smoke.id, 'acknowledged', { by: 'guard-lin', source: 'local' });
    await gw.gateway.services.alerts.transition(smoke.id, 'dispatched', { by: 'guard-lin', note: '已派保安小张前往1号楼1单元101', source: 'local' });

    const guard = await loginAs(gw, 'guard', 'guard-lin');
    const page = await browser.newPage({ viewport: { width: 1366, height: 760 }, locale: 'zh-CN' });
    await login(page, gw.httpUrl, guard);
    await page.locator('.alert').nth(3).waitFor();
    await page.screenshot({ path: join(GUIDE, 'alerts.png') });
    await page.locator(`.alert[data-id="${smoke.id}"]`).click();
    await page.locator('#timeline').waitFor();
    await page.fill('#note', '烟感误触发，住户做饭油烟，已开窗通风');
    await page.screenshot({ path: join(GUIDE, 'alert-detail.png') });
    await page.click('[data-action="resolve"]');
    await poll(() => page.locator('#timeline li').count()).toBe(4);
    await page.screenshot({ path: join(GUIDE, 'alert-resolved.png') });
    await page.goto(`${gw.httpUrl}/#/alerts`);
    await page.locator('#board').waitFor();
    await page.click('#lang');
    await poll(() => page.textContent('#nav')).toContain('Alerts');
    await page.screenshot({ path: join(GUIDE, 'alerts-en.png') });
    await page.click('#lang');
    await poll(() => page.textContent('#nav')).toContain('告警');
    await page.goto(`${gw.httpUrl}/#/events`);
    await page.locator('#events').waitFor();
    await page.screenshot({ path: join(GUIDE, 'events.png') });
    await page.goto(`${gw.httpUrl}/#/people`);
    await page.locator('#watchlist').waitFor();
    await page.click('.tabs button:nth-child(2)');
    await page.locator('#care').waitFor();
    await page.click('#care a');
    await page.locator('#person .panel').waitFor();
    await page.screenshot({ path: join(GUIDE, 'people.png') });
    await page.click('#logout');
    await page.locator('#login-form').waitFor();
    await page.screenshot({ path: join(GUIDE, 'login.png') });

    const installer = await loginAs(gw, 'installer', 'installer-zhou');
    await login(page, gw.httpUrl, installer);
    await page.goto(`${gw.httpUrl}/#/devices`);
    await page.locator('tr[data-device="smoke-1"][data-online="true"]').waitFor();
    await page.screenshot({ path: join(GUIDE, 'devices.png') });
    await page.click('#logout');
    const admin = await loginAs(gw, 'admin', 'admin-chen');
    await login(page, gw.httpUrl, admin);
    await page.goto(`${gw.httpUrl}/#/audit`);
    await page.locator('#audit').waitFor();
    expect(await page.textContent('#audit')).toContain('view.person');
    await page.screenshot({ path: join(GUIDE, 'audit.png') });
    await page.goto(`${gw.httpUrl}/#/users`);
    await page.locator('#users').waitFor();
    await page.screenshot({ path: join(GUIDE, 'users.png') });
    await page.goto(`${gw.httpUrl}/#/config`);
    await page.locator('#config').waitFor();
    const configText = (await page.textContent('#config'))!;
    expect(configText).toContain('CG350102001');
    expect(configText).not.toMatch(/scrypt\$/);
    await page.screenshot({ path: join(GUIDE, 'config.png') });
    for (const [id, client] of Object.entries(devices)) if (id !== 'cam-1') await client.endAsync();
  }, 180_000);
});
