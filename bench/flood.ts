/**
 * Flood benchmark (issue 9). In one run, on this machine: one device (ac-1) writes QoS 1 events as
 * fast as TCP takes them while a well-behaved device (ac-2) reports door.forced one at a time and
 * a guard times each alert. Twice: with the broker's default per-client limit (50/s, burst 200)
 * and, as the baseline, with the limit lifted. Prints the alert latency of the well-behaved
 * device in both and their ratio. `BENCH_FLOOD_MS` sets each flood's length (default 10 s).
 */
import { startGateway, testSite } from '../test/helpers/gateway.ts';
import { runFlood, type FloodFigures } from '../test/reliability/flood-scenario.ts';

const FLOOD_MS = Number(process.env.BENCH_FLOOD_MS ?? 10_000);

async function run(rateLimit: Record<string, number> | null): Promise<FloodFigures> {
  const site = await testSite();
  if (rateLimit) site.broker = { ...(site.broker as Record<string, unknown>), rateLimit };
  const gw = await startGateway(site);
  try {
    return await runFlood(gw, { floodMs: FLOOD_MS, maxPublishes: 10_000_000, probes: Math.round(FLOOD_MS / 150), probeGapMs: 100 });
  } finally {
    await gw.stop();
  }
}

const limited = await run(null);
const unlimited = await run({ publishesPerSecond: 100_000, burst: 1_000_000 });
const row = (name: string, f: FloodFigures) =>
  `${name.padEnd(22)} stored ${String(f.floodStored).padStart(7)} (${Math.round(f.floodStored / f.floodSeconds)}/s)  throttled ${String(f.throttled).padStart(6)}  alerts ${f.probes}  p50 ${f.p50Ms.toFixed(1)} ms  p99 ${f.p99Ms.toFixed(1)} ms  max ${f.maxMs.toFixed(1)} ms  peak RSS ${f.peakRssMiB.toFixed(0)} MiB`;
console.log(`flood benchmark (${FLOOD_MS / 1000} s flood each, node ${process.version})`);
console.log(row('limit 50/s (default)', limited));
console.log(row('no limit (baseline)', unlimited));
console.log(`p99 alert latency of the other device, no limit / limit: ${(unlimited.p99Ms / limited.p99Ms).toFixed(1)}×`);
