/**
 * The guard-room console: page weight (every byte the browser loads to show the alert board),
 * and how fast a device's door.forced reaches the board in Chromium, against the same alert
 * reaching a plain SSE client in the same run (the baseline: what the browser adds).
 *
 *   npx tsx bench/console.ts
 */
import { gzipSync } from 'node:zlib';
import { launchChromium } from '../test/helpers/browser.ts';
import { connectDevice, publishEvent, startGateway, testSite } from '../test/helpers/gateway.ts';
import { loginAs } from '../test/helpers/login.ts';
import { SseClient } from '../test/helpers/sse.ts';
import { waitFor } from '../test/helpers/net.ts';
import { hasCommand } from '../test/helpers/tools.ts';

const ROUNDS = 20;
const gw = await startGateway(await testSite());
try {
  const guard = await loginAs(gw, 'guard', 'bench-guard');

  // 1. Page weight, as served.
  const files = ['/', '/app.css', '/app.js', '/i18n.js'];
  let raw = 0;
  let gz = 0;
  console.log('file            bytes   gzip');
  for (const f of files) {
    const body = Buffer.from(await (await fetch(`${gw.httpUrl}${f}`)).arrayBuffer());
    const z = gzipSync(body, { level: 9 }).length;
    raw += body.length;
    gz += z;
    console.log(`${f.padEnd(14)} ${String(body.length).padStart(6)} ${String(z).padStart(6)}`);
  }
  console.log(`total          ${String(raw).padStart(6)} ${String(gz).padStart(6)}   (${files.length} requests; the server sends them uncompressed)`);

  if (!hasCommand('chromium')) {
    console.log('chromium not installed: latency part skipped (apt-get install chromium)');
  } else {
    const browser = await launchChromium();
    const page = await browser.newPage();
    const t0 = performance.now();
    await page.goto(`${gw.httpUrl}/`);
    await page.fill('#username', guard.username);
    await page.fill('#password', guard.password);
    await page.click('#login-form button[type=submit]');
    await page.locator('#board').waitFor();
    console.log(`login → board shown: ${(performance.now() - t0).toFixed(0)} ms`);
    // Runs in the page: the browser's own count of body bytes it fetched.
    const transferred = await page.evaluate(() => {
      const perf = (globalThis as any).performance;
      return [...perf.getEntriesByType('navigation'), ...perf.getEntriesByType('resource')].reduce((n: number, e: any) => n + (e.encodedBodySize || 0), 0) as number;
    });
    console.log(`bytes the browser loaded (navigation + resources, incl. API JSON): ${transferred}`);

    // 2. Latency: device publish → card on the board, vs → SSE client in Node.
    const sse = new SseClient(`${gw.httpUrl}/api/alerts/stream`, guard.headers);
    await sse.open();
    const device = await connectDevice(gw.mqttUrl, 'ac-1');
    const browserMs: number[] = [];
    const sseMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Resolve the open alert first, so the next door.forced raises a new one instead of merging.
      for (const a of gw.gateway.services.store.alerts.list({ status: ['new'] })) await gw.gateway.services.alerts.transition(a.id, 'resolved', { by: 'bench', note: 'bench' });
      const before = sse.events.length;
      const start = performance.now();
      await publishEvent(device, 'ac-1', { type: 'door.forced' });
      const ev = await waitFor(() => sse.events.slice(before).find((e) => JSON.parse(e.data).change === 'raised'), 'SSE alert', 10_000, 1);
      sseMs.push(performance.now() - start);
      const id = JSON.parse(ev.data).alert.id;
      await page.locator(`.alert[data-id="${id}"]`).waitFor({ timeout: 10_000 });
      browserMs.push(performance.now() - start);
    }
    const p = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
    console.log(`door.forced → plain SSE client (baseline): p50 ${p(sseMs, 0.5).toFixed(1)} ms, p95 ${p(sseMs, 0.95).toFixed(1)} ms`);
    console.log(`door.forced → card on the board in Chromium: p50 ${p(browserMs, 0.5).toFixed(1)} ms, p95 ${p(browserMs, 0.95).toFixed(1)} ms`);
    console.log(`ratio board/baseline (p50): ${(p(browserMs, 0.5) / p(sseMs, 0.5)).toFixed(2)}   (${ROUNDS} rounds; includes playwright's polling of the page)`);
    sse.close();
    await device.endAsync();
    await browser.close();
  }
} finally {
  await gw.stop();
}
