/**
 * Uplink drain benchmark: `npx tsx bench/uplink-drain.ts [items]` (default 100,000).
 *
 * 1. Baseline, same mosquitto, same run: a plain mqtt.js client publishes the same items at
 *    QoS 1, (a) batched into envelopes of the uplink's size, (b) one item per message, keeping up
 *    to 1,000 unacknowledged, and waits for every PUBACK. No SQLite, no bookkeeping: the ceiling
 *    for this broker and machine.
 * 2. The uplink drains a backlog of the same items from a real SQLite outbox (WAL, synchronous
 *    FULL): read by class, envelope, publish QoS 1, delete after PUBACK.
 * 3. While it drains, an alert is queued every 100 ms; its latency is measured from the commit
 *    of its outbox row to its arrival at a platform subscriber.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { Uplink } from '../cloud-sync/uplink.ts';
import { GatewayConfigSchema } from '../config/schema/index.ts';
import { EventBus } from '../gateway/core/bus.ts';
import { systemClock } from '../gateway/core/clock.ts';
import { newId } from '../gateway/core/ids.ts';
import { Metrics } from '../gateway/core/metrics.ts';
import { Store } from '../gateway/store/store.ts';
import { sampleEvent } from '../test/cloud-sync/backlog.ts';
import { Mosquitto } from '../test/helpers/mosquitto.ts';

const ITEMS = Number(process.argv[2] ?? 100_000);
const ROOT = 'grid/v1/CG350102001/gw-bench-1';

const broker = new Mosquitto();
await broker.start();
const site = GatewayConfigSchema.parse({
  site: {
    gatewayId: 'gw-bench-1',
    communityName: 'bench',
    communityGridCode: 'CG350102001',
    policeGridCode: 'PG350102600102',
    policeStation: 'bench',
    addressCode: 'AC3501020000',
    gates: [],
    zones: [],
    buildings: [],
  },
  platform: { url: broker.url, heartbeatSeconds: 0, ...(process.env.WINDOW ? { window: Number(process.env.WINDOW) } : {}), ...(process.env.BATCH ? { batchMaxItems: Number(process.env.BATCH) } : {}) },
});
const platform = site.platform!;
const items = Array.from({ length: ITEMS }, (_, i) => sampleEvent(i));
const itemJson = items.map((i) => JSON.stringify(i));
const avgBytes = Math.round(itemJson.reduce((n, j) => n + j.length, 0) / ITEMS);
console.log(`uplink drain benchmark: ${ITEMS} items of ≈${avgBytes} B, envelopes of ≤${platform.batchMaxItems} items / ${platform.batchMaxBytes} B, window ${platform.window}, mosquitto ${broker.url}`);

async function rawRate(perMessage: number): Promise<number> {
  const client = await mqtt.connectAsync(broker.url, { clientId: `raw-${perMessage}`, protocolVersion: 5, reconnectPeriod: 0 });
  const payloads: string[] = [];
  for (let i = 0; i < ITEMS; i += perMessage) payloads.push(`{"v":1,"gatewayId":"gw-bench-1","seq":${i},"kind":"event","items":[${itemJson.slice(i, i + perMessage).join(',')}]}`);
  // At most 1,000 unacknowledged at once: QoS 1 packet ids are 16-bit, and a client must bound them.
  const started = process.hrtime.bigint();
  let next = 0;
  const worker = async () => {
    while (next < payloads.length) await client.publishAsync(`${ROOT}/raw`, payloads[next++]!, { qos: 1 });
  };
  await Promise.all(Array.from({ length: Math.min(1000, payloads.length) }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await client.endAsync();
  return ITEMS / seconds;
}

const rawEnvelopes = await rawRate(platform.batchMaxItems);
const rawSingle = await rawRate(1);
console.log(`baseline  plain mqtt.js, QoS 1, envelopes of ${platform.batchMaxItems}: ${fmt(rawEnvelopes)} items/s`);
console.log(`baseline  plain mqtt.js, QoS 1, one item per message:  ${fmt(rawSingle)} items/s`);

const dataDir = mkdtempSync(join(tmpdir(), 'gg-bench-uplink-'));
const store = Store.open(Store.fileIn(dataDir));
const nowMs = Date.now();
store.db.transaction(() => {
  for (const item of items) store.outbox.enqueue('event', item.id, item, nowMs);
})();
// The backlog in the database file, not the WAL, as after a long outage.
store.db.pragma('wal_checkpoint(RESTART)');

const watcher = await mqtt.connectAsync(broker.url, { clientId: 'bench-platform', protocolVersion: 5, reconnectPeriod: 0 });
const committedAt = new Map<string, number>();
const latencies: number[] = [];
watcher.on('message', (_topic, payload) => {
  const arrived = performance.now();
  for (const item of JSON.parse(payload.toString()).items as { id: string }[]) {
    const t = committedAt.get(item.id);
    if (t !== undefined) latencies.push(arrived - t);
  }
});
await watcher.subscribeAsync(`${ROOT}/alerts`, { qos: 1 });

const bus = new EventBus();
const uplink = new Uplink({
  config: platform,
  gatewayId: 'gw-bench-1',
  communityGridCode: 'CG350102001',
  version: 'bench',
  store,
  bus,
  clock: systemClock,
  metrics: new Metrics(),
  log: pino({ level: 'warn' }),
  resolvePath: (p) => p,
});
const started = process.hrtime.bigint();
uplink.start();
let alertsQueued = 0;
const alertTimer = setInterval(() => {
  const id = newId();
  alertsQueued++;
  void store.writes
    .write(() => store.outbox.enqueue('alert', id, { id, ruleId: 'bench', severity: 'critical' }, Date.now()))
    .then(() => {
      committedAt.set(id, performance.now());
      bus.emit('outbox.enqueued', { count: 1 });
    });
}, 100);
while (store.outbox.totals().find((t) => t.kind === 'event')!.count > 0) await new Promise((r) => setTimeout(r, 5));
const drainSeconds = Number(process.hrtime.bigint() - started) / 1e9;
clearInterval(alertTimer);
while (latencies.length < alertsQueued) await new Promise((r) => setTimeout(r, 10));
const drainRate = ITEMS / drainSeconds;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;

console.log(`uplink    SQLite outbox → mosquitto, QoS 1, delete after PUBACK: ${fmt(drainRate)} items/s (${drainSeconds.toFixed(2)} s for ${ITEMS})`);
console.log(`ratio     uplink / raw envelopes: ${(drainRate / rawEnvelopes).toFixed(2)}×   uplink / raw one-per-message: ${(drainRate / rawSingle).toFixed(2)}×`);
console.log(`alerts    ${latencies.length} live alerts during the drain: p50 ${pct(0.5).toFixed(1)} ms, p95 ${pct(0.95).toFixed(1)} ms, max ${pct(1).toFixed(1)} ms (commit → platform subscriber)`);
console.log(`targets   ≥ 10,000 items/s: ${drainRate >= 10_000 ? 'met' : 'NOT met'}; ≥ 0.5× raw envelopes: ${drainRate / rawEnvelopes >= 0.5 ? 'met' : 'NOT met'}; alerts < 1 s: ${pct(1) < 1000 ? 'met' : 'NOT met'}`);

await uplink.stop();
await watcher.endAsync();
store.close();
await broker.stop();

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
