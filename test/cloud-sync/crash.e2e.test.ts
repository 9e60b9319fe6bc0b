import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../gateway/store/store.ts';
import { testSite, TEST_SECRETS } from '../helpers/gateway.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { requireTool } from '../helpers/tools.ts';
import { prefill } from './backlog.ts';
import { PlatformPeer, ROOT } from './platform.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');
/** CI runs a short version; `CRASH_KILLS=30 CRASH_BACKLOG=200000 npx vitest run test/cloud-sync/crash.e2e.test.ts` runs a long one. */
const KILLS = Number(process.env.CRASH_KILLS ?? 3);
const BACKLOG = Number(process.env.CRASH_BACKLOG ?? 20_000);
/** Slows the drain so that each run's kill falls in the middle of it. */
const DRAIN_RATE = 3000;
const WINDOW = 8;
const BATCH = 200;
const CHILD = join(import.meta.dirname, '..', 'helpers', 'gateway-child.ts');

describe.skipIf(!haveMosquitto)(`crash: kill -9 the gateway ${KILLS} times during a drain`, () => {
  const broker = new Mosquitto();
  let peer: PlatformPeer;
  let siteFile: string;
  let dataDir: string;
  let mqttPort: number;
  let child: ChildProcess | null = null;

  const startChild = async (): Promise<ChildProcess> => {
    const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, siteFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('READY') || proc.exitCode !== null, 'gateway child to start', 60_000);
    if (!out.includes('READY')) throw new Error(`gateway child exited: ${out}`);
    child = proc;
    return proc;
  };

  const kill9 = async (proc: ChildProcess) => {
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
    child = null;
  };

  beforeAll(async () => {
    await broker.start();
    peer = await new PlatformPeer(broker.url).connect();
    mqttPort = await freePort();
    const site = await testSite({
      platform: { url: broker.url, reconnectMinMs: 100, reconnectMaxMs: 500, heartbeatSeconds: 0, window: WINDOW, batchMaxItems: BATCH, drainMaxItemsPerSecond: DRAIN_RATE },
      broker: (await testSite()).broker,
    });
    (site.broker as Record<string, unknown>).port = mqttPort;
    (site.http as Record<string, unknown>).port = await freePort();
    dataDir = (site.storage as { dataDir: string }).dataDir;
    siteFile = join(mkdtempSync(join(tmpdir(), 'gg-crash-')), 'site.yaml');
    writeFileSync(siteFile, stringify(site));
  });

  afterAll(async () => {
    if (child) await kill9(child);
    await peer?.close();
    await broker.stop();
  });

  it('every queued item and every event a device got a PUBACK for arrives at least once; duplicates only from in-flight envelopes', async () => {
    const backlog = prefill(join(dataDir, 'gridguard.db'), 'event', BACKLOG);
    // A device keeps publishing through the crashes; it remembers which events the gateway acknowledged.
    const acked = new Set<string>();
    let device: { client: MqttClient; closed: Promise<never> } | null = null;
    let marker = 0;
    let live = true;
    const deviceLoop = (async () => {
      while (live) {
        try {
          if (!device) {
            // mqtt.connectAsync never settles when the socket closes before CONNACK (a kill mid-handshake).
            const client = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'ac-2', username: 'ac-2', password: TEST_SECRETS['ac-2'], protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 15_000 });
            client.on('error', () => {});
            const closed = new Promise<never>((_, reject) => client.once('close', () => reject(new Error('connection closed'))));
            closed.catch(() => {});
            await Promise.race([new Promise((resolve) => client.once('connect', resolve)), closed]);
            device = { client, closed };
          }
          const m = `m-${++marker}`;
          // A publish on a dead connection would wait forever in mqtt.js's queue: give up on close.
          await Promise.race([device.client.publishAsync('devices/ac-2/events', JSON.stringify({ type: 'access.granted', cardNo: '1002', marker: m }), { qos: 1 }), device.closed]);
          acked.add(m);
        } catch {
          await device?.client.endAsync(true).catch(() => {});
          device = null;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const rng = mulberry32(Number(process.env.CRASH_SEED ?? 20261129));
    const uniqueReceived = () => new Set(peer.itemIds('events')).size;
    for (let k = 0; k < KILLS; k++) {
      const t0 = Date.now();
      const proc = await startChild();
      const t1 = Date.now();
      // Kill at a random point of the drain (the device publishes whenever it is connected).
      const threshold = peer.itemIds('events').length + 1 + Math.floor(rng() * 8 * BATCH);
      await waitFor(() => peer.itemIds('events').length >= threshold, `run ${k} to drain past ${threshold}`, 60_000, 5);
      expect(uniqueReceived(), `run ${k} was still draining when killed`).toBeLessThan(backlog.length);
      await kill9(proc);
      console.log(`run ${k}: start ${t1 - t0} ms, killed ${Date.now() - t1} ms later`);
    }
    let t0 = Date.now();
    const last = await startChild();
    console.log(`final start ${Date.now() - t0} ms`);
    t0 = Date.now();
    const finalAcks = acked.size + 20;
    await waitFor(() => acked.size >= finalAcks, 'the device to publish through the final drain', 60_000);
    live = false;
    await deviceLoop;
    await (device as { client: MqttClient } | null)?.client.endAsync().catch(() => {});
    const db = () => Store.open(join(dataDir, 'gridguard.db'));
    // Drained: read the outbox of the running gateway's database from here (WAL allows it).
    await waitFor(
      () => {
        const store = db();
        try {
          return store.outbox.count() === 0;
        } finally {
          store.close();
        }
      },
      'the final drain',
      120_000,
      100,
    );
    await waitFor(() => new Set(peer.itemIds('events')).size >= backlog.length, 'all backlog items at the platform', 30_000);
    console.log(`final drain ${Date.now() - t0} ms`);
    await new Promise<void>((resolve) => {
      last.once('exit', () => resolve());
      last.kill('SIGTERM');
    });
    child = null;

    const received = peer.itemIds('events');
    const unique = new Set(received);
    for (const id of backlog) if (!unique.has(id)) throw new Error(`backlog item ${id} never reached the platform`);
    // Every event the device got a PUBACK for is stored and reached the platform.
    const events = peer.messages.filter((m) => m.topic === `${ROOT}/events`).flatMap((m) => m.body.items);
    const markers = new Set(events.map((e: any) => e.payload?.marker).filter(Boolean));
    const lost = [...acked].filter((m) => !markers.has(m));
    expect(lost, 'acknowledged device events lost').toEqual([]);

    // Duplicates: never within one gateway run (envelope seqs of a run are consecutive), and no
    // more per crash than one lane can have unsettled at the kill: a window in flight plus up
    // to two windows acknowledged whose delete had not committed yet.
    const envelopes = peer.messages.filter((m) => m.topic.startsWith(`${ROOT}/`) && typeof m.body.seq === 'number').sort((a, b) => a.body.seq - b.body.seq);
    const runOf = new Map<number, number>();
    let run = 0;
    envelopes.forEach((m, i) => {
      if (i > 0 && m.body.seq - envelopes[i - 1]!.body.seq > 1) run++;
      runOf.set(m.body.seq, run);
    });
    const seenInRun = new Map<string, Set<number>>();
    for (const m of envelopes) {
      if (m.topic !== `${ROOT}/events`) continue;
      for (const item of m.body.items) {
        const runs = seenInRun.get(item.id) ?? new Set<number>();
        if (runs.has(runOf.get(m.body.seq)!)) throw new Error(`item ${item.id} sent twice within one run`);
        runs.add(runOf.get(m.body.seq)!);
        seenInRun.set(item.id, runs);
      }
    }
    const duplicates = received.length - unique.size;
    expect(duplicates).toBeLessThanOrEqual(KILLS * 3 * WINDOW * BATCH);
    console.log(`crash test: ${KILLS} kills, ${backlog.length} backlog + ${acked.size} live events, ${duplicates} duplicates, ${run + 1} runs seen`);
  }, 300_000);
});

/** A small seeded PRNG, so a failing kill pattern can be replayed with CRASH_SEED. */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
