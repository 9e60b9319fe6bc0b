/**
 * Malformed device JSON at scale (fast-check), short version for CI; the long one is
 * test/fuzz/device-json.faults.ts. Every message is acknowledged and either stored or refused
 * with a counter; the gateway and other devices keep working; peak memory is reported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testSite, type TestGateway } from '../helpers/gateway.ts';
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
