/**
 * Flood, short version for CI: the qualitative properties only (no wall-clock bound here; the
 * latency bound lives in the fault suite, npm run test:faults). A device flooding the embedded
 * broker is slowed to its rate and counted, every PUBACK it got stands for a stored event, and a
 * well-behaved device's alerts all arrive meanwhile.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testSite, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/net.ts';
import { runFlood, storedOf } from './flood-scenario.ts';

describe('flood: one device publishing as fast as it can', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    const site = await testSite();
    site.broker = { ...(site.broker as Record<string, unknown>), rateLimit: { publishesPerSecond: 20, burst: 40 } };
    gw = await startGateway(site);
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('is slowed and counted, loses nothing it was acknowledged for, and does not stop other devices\' alerts', async () => {
    // 3000 publishes at 20/s would need 150 s to be admitted: the flood outlasts the probes by far.
    const figures = await runFlood(gw, { floodMs: 60_000, maxPublishes: 3000, probes: 10 });
    console.log('flood (CI):', JSON.stringify(figures));
    expect(figures.probes).toBe(10);
    expect(figures.floodSent).toBe(3000);
    expect(figures.throttled).toBeGreaterThan(0);
    // Slowed, not dropped: what was acknowledged was stored, and most of the flood was still waiting.
    expect(figures.floodStored).toBeGreaterThanOrEqual(figures.floodAcked);
    expect(figures.floodAcked).toBeLessThan(figures.floodSent);
    const status = await gw.gateway.status();
    expect((status.rejected as Record<string, number>)['mqtt/rate-limited']).toBe(figures.throttled);
    const lines = readFileSync(gw.logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string });
    // One warning per throttling episode, not one per packet: a flood must not flood the log too.
    const warnings = lines.filter((l) => l.msg === 'mqtt: client "ac-1" exceeds 20 publishes/s: slowing it down (its packets wait, none are dropped)');
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings.length).toBeLessThan(figures.throttled);
  });

  it('once the flooder is gone, its throttled backlog is dropped unacknowledged, not stored (the device still owns it)', async () => {
    await waitFor(() => !gw.gateway.services.broker.connectedClientIds().includes('ac-1'), 'the flooder to be gone');
    // Let publishes already inside the pipeline at the cut finish, then nothing more may arrive:
    // handing on the ~800 waiting packets at 20/s would store one every 50 ms.
    await new Promise((r) => setTimeout(r, 300));
    const settled = storedOf(gw, 'ac-1');
    await new Promise((r) => setTimeout(r, 1500));
    expect(storedOf(gw, 'ac-1')).toBe(settled);
  });
});
