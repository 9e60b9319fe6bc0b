import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, loginInBrowser } from '../../helpers/browser.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, startGateway, testSite, type TestGateway } from '../../helpers/gateway.ts';
import { loginAs, type LoggedIn } from '../../helpers/login.ts';
import { freePort } from '../../helpers/net.ts';
import { requireTool } from '../../helpers/tools.ts';

const haveTools = requireTool('chromium', 'chromium');
// A test artifact (gitignored); docs/img/console-commissioning.png is a reviewed copy of it.
const SCREENSHOT = join(process.cwd(), 'test-artifacts', 'console', 'commissioning.png');

/** expect.poll with a deadline fit for a shared, busy machine. */
const poll = <T>(fn: () => T | Promise<T>, timeout = 30_000) => expect.poll(fn, { timeout, interval: 100 });

const login = loginInBrowser;

describe.skipIf(!haveTools)('commissioning page in headless Chromium', () => {
  let gw: TestGateway;
  let browser: Browser;
  let device: MqttClient | null = null;
  const commands: any[] = [];

  beforeAll(async () => {
    const base = await testSite();
    const site = {
      ...base,
      broker: { ...(base.broker as object), port: await freePort() },
      devices: [
        ...(base.devices as unknown[]),
        { id: 'door-b1', name: '1号楼门禁', kind: 'access-controller', transport: 'serial', location: { building: 'b1', unit: 'u1' }, serial: { bus: 'rs485-1', protocol: 'modbus-rtu', address: 3, outputs: { doorStrike: { coil: 0 } } } },
      ],
      serialBuses: [{ id: 'rs485-1', path: join(mkdtempSync(join(tmpdir(), 'gg-cm-')), 'ttyUSB0'), baudRate: 9600, parity: 'none' }],
    };
    gw = await startGateway(site);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await device?.endAsync().catch(() => {});
    await browser?.close();
    await gw?.stop();
  });

  it('an installer sees a real MQTT device come online, presses Test and sees its reply', async () => {
    const installer = await loginAs(gw, 'installer', 'installer-chen');
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN' });
    await login(page, gw.httpUrl, installer);
    await page.click('#nav a[href="#/commissioning"]');
    const row = page.locator('tr[data-device="ac-1"]');
    await row.waitFor();
    expect(await row.getAttribute('data-online')).toBe('false');
    // What the installer types into the device: the broker port and the device's own topics.
    const settings = await row.locator('.cm-settings').innerText();
    expect(settings).toContain(`127.0.0.1:${gw.gateway.ports.mqtt}`);
    expect(settings).toContain('devices/ac-1/commands');
    expect(settings).toContain('devices/ac-1/commands/result');
    expect(await page.locator('tr[data-device="door-b1"] .cm-settings').innerText()).toContain('9600 8N1');

    // The device: a real MQTT client that carries out commands and answers on commands/result.
    device = await connectDevice(gw.mqttUrl, 'ac-1');
    device.on('message', (topic, payload) => {
      if (topic !== 'devices/ac-1/commands') return;
      const cmd = JSON.parse(payload.toString());
      commands.push(cmd);
      void device!.publishAsync('devices/ac-1/commands/result', JSON.stringify({ id: cmd.id, ok: true, data: { relay: `pulsed ${cmd.params?.ms} ms` } }), { qos: 1 });
    });
    await device.subscribeAsync('devices/ac-1/commands', { qos: 1 });
    await device.publishAsync('devices/ac-1/heartbeat', JSON.stringify({ battery: 96, firmware: '2.4.1' }), { qos: 1 });

    // The page polls GET /api/devices: the row turns online without a reload.
    await poll(() => row.getAttribute('data-online')).toBe('true');
    await poll(() => row.locator('.cm-link').innerText()).toContain('已连接');

    await row.locator('button[data-test="ac-1"]').click();
    const result = row.locator('.cm-result[data-result="ok"]');
    await result.waitFor({ timeout: 30_000 });
    const text = await result.innerText();
    expect(text).toContain('door.open');
    expect(text).toContain('pulsed 500 ms');
    expect(commands).toEqual([expect.objectContaining({ type: 'door.open', params: { ms: 500 } })]);

    // A later poll redraws the live cells only: the reply stays on screen.
    await page.waitForResponse((r) => r.url().endsWith('/api/devices'), { timeout: 30_000 });
    await page.waitForResponse((r) => r.url().endsWith('/api/devices'), { timeout: 30_000 });
    expect(await row.locator('.cm-result[data-result="ok"]').count()).toBe(1);

    // A device nobody answers for: the button shows the timeout.
    await page.locator('tr[data-device="ac-2"] button[data-test="ac-2"]').click();
    await page.locator('tr[data-device="ac-2"] .cm-result[data-result="failed"]').waitFor({ timeout: 40_000 });
    expect(await page.locator('tr[data-device="ac-2"] .cm-result').innerText()).toMatch(/no reply within \d+ ms/);

    mkdirSync(join(process.cwd(), 'test-artifacts', 'console'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // English switch.
    await page.click('#lang');
    await page.locator('h1', { hasText: 'Commissioning' }).waitFor();
    await page.close();
  }, 120_000);

  it('a guard has no commissioning page', async () => {
    const guard = await loginAs(gw, 'guard');
    const page = await browser.newPage({ viewport: { width: 1366, height: 800 } });
    const requested: string[] = [];
    page.on('request', (r) => requested.push(new URL(r.url()).pathname));
    await login(page, gw.httpUrl, guard);
    await page.locator('#nav a').first().waitFor();
    expect(await page.locator('#nav a[href="#/commissioning"]').count()).toBe(0);
    await page.goto(`${gw.httpUrl}/#/commissioning`);
    await page.locator('#nav a').first().waitFor();
    expect(await page.locator('.cm-table').count()).toBe(0);
    // The installer's page is loaded on first use only: the guard-room PC never fetches it.
    expect(requested).toContain('/app.js');
    expect(requested).not.toContain('/commissioning.js');
    await page.close();
  }, 60_000);
});
