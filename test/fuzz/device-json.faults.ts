/** Long device JSON fuzz (npm run test:faults): tens of thousands of messages, same properties. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testSite, type TestGateway } from '../helpers/gateway.ts';
import { fuzzDeviceJson } from './mqtt-fuzz.ts';

let gw: TestGateway;
beforeAll(async () => {
  const site = await testSite();
  site.broker = { ...(site.broker as Record<string, unknown>), rateLimit: { publishesPerSecond: 100_000, burst: 100_000 } };
  gw = await startGateway(site);
});
afterAll(async () => {
  await gw?.stop();
});

describe('malformed device JSON, long run', () => {
  it('acknowledges and accounts for every message with bounded memory', async () => {
    const count = Number(process.env.GRIDGUARD_JSON_FUZZ ?? 30_000);
    const rssBefore = process.memoryUsage().rss / 2 ** 20;
    const report = await fuzzDeviceJson(gw, count);
    console.log(`device JSON fuzz (faults): rss before ${rssBefore.toFixed(0)} MiB`, JSON.stringify(report));
    expect(report.acked).toBe(count);
    expect(report.peakRssMiB - rssBefore).toBeLessThan(1024);
  });
});
