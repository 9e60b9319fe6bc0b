/**
 * Malformed device JSON at scale (fast-check), short version for CI; the long one is
 * test/fuzz/device-json.faults.ts. Every message is acknowledged and either stored or refused
 * with a counter; the gateway and other devices keep working; peak memory is reported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testSite, type TestGateway } from '../helpers/gateway.ts';
import { connectDevice } from '../helpers/gateway.ts';
import { fuzzDeviceJson } from './mqtt-fuzz.ts';

let gw: TestGateway;
beforeAll(async () => {
  const site = await testSite();
  // The fuzz is about parsing, not throttling: lift the per-client rate limit.
  site.broker = { ...(site.broker as Record<string, unknown>), rateLimit: { publishesPerSecond: 100_000, burst: 100_000 } };
  gw = await startGateway(site);
});
afterAll(async () => {
  await gw?.stop();
});

describe('malformed device JSON at scale', () => {
  it('every message is acknowledged, stored or refused with a counter; nothing crashes', async () => {
    const report = await fuzzDeviceJson(gw, Number(process.env.GRIDGUARD_JSON_FUZZ ?? 1000));
    console.log('device JSON fuzz (CI):', JSON.stringify(report));
    expect(report.acked).toBe(report.messages);
    const refused = Object.entries(report.rejected).filter(([k]) => k.startsWith('mqtt/')).reduce((n, [, v]) => n + v, 0);
    expect(refused).toBeGreaterThan(0);
    // Each message became at most one stored event or one refusal; none vanished into both or neither on the events topic.
    expect(report.eventsStored + refused).toBeLessThanOrEqual(report.messages);
    expect(report.eventsStored).toBeGreaterThan(0);
    expect(report.peakRssMiB).toBeLessThan(2048);
  });
});

describe('found by the long fuzz', () => {
  // Regression: an event whose ts is a finite number beyond what a Date holds (|ms| > 8.64e15,
  // e.g. 1e300) made toISOString throw, the publish failed and the device was disconnected (and
  // locked out when it resent the event). Such a ts is now treated like an unreadable one.
  it('an event with an out-of-range numeric ts is acknowledged and the device stays connected', async () => {
    const device = await connectDevice(gw.mqttUrl, 'ac-1');
    let closed = false;
    device.on('close', () => (closed = true));
    await Promise.race([
      device.publishAsync('devices/ac-1/events', JSON.stringify({ type: 'door.opened', ts: 1e300 }), { qos: 1 }),
      new Promise((_, reject) => device.once('close', () => reject(new Error('the gateway disconnected the device')))),
    ]);
    expect(closed).toBe(false);
    await device.endAsync();
  });
});
