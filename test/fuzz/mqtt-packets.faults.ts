/** Long MQTT packet fuzz (npm run test:faults): many more runs than CI, same properties. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testSite, type TestGateway } from '../helpers/gateway.ts';
import { fuzzMqtt } from './mqtt-fuzz.ts';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway(await testSite());
});
afterAll(async () => {
  await gw?.stop();
});

describe('malformed MQTT, long run', () => {
  it('survives thousands of malformed connections with bounded memory', async () => {
    const runs = Number(process.env.GRIDGUARD_FUZZ_RUNS ?? 5000);
    const rssBefore = process.memoryUsage().rss / 2 ** 20;
    const report = await fuzzMqtt(gw, runs, 250);
    console.log(`mqtt fuzz (faults): rss before ${rssBefore.toFixed(0)} MiB`, JSON.stringify(report));
    expect(report.runs).toBe(runs);
    // Bounded: thousands of hostile connections must not grow the process by more than a few hundred MiB.
    expect(report.peakRssMiB - rssBefore).toBeLessThan(512);
    expect(gw.gateway.services.broker.connectedClientIds().length).toBeLessThanOrEqual(1);
  });
});
