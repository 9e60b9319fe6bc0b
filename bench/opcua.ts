/**
 * OPC-UA value changes per second from one server to events.
 *
 *   npx tsx bench/opcua.ts [changes=4000]
 *
 * The fixture server (a child process) flips a Boolean node `changes` times as fast as it can.
 * Three consumers, one after the other, on the same server and node, for three rounds:
 *   baseline  a raw node-opcua client subscription counting notifications (the ceiling);
 *   driver    OpcuaDriver mapping every change to an event, counted at its ingest callback;
 *   gateway   a real Gateway: driver → pipeline → SQLite commit (synchronous=FULL) → event.stored.
 * Each run's rate is delivered changes / (first burst write → last delivery); the median round is shown. The ratios against
 * the baseline measured in this same run are what to compare across machines.
 */
import { AttributeIds, MessageSecurityMode, OPCUACertificateManager, OPCUAClient, SecurityPolicy, TimestampsToReturn } from 'node-opcua';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpcuaDriver } from '../device-drivers/opcua/opcua-driver.ts';
import { opcuaDevice, opcuaServer, RecordingContext } from '../test/device-drivers/opcua/context.ts';
import { OpcuaFixture } from '../test/device-drivers/opcua/fixture.ts';
import { startGateway, testSite } from '../test/helpers/gateway.ts';
import { waitFor } from '../test/helpers/net.ts';

const CHANGES = Math.max(2, Math.floor(Number(process.argv[2] ?? 4000) / 2) * 2);
const NODE = 'ns=1;s=Bench.Toggle';
const SUBSCRIPTION = { publishingIntervalMs: 50, samplingIntervalMs: 0, queueSize: 10_000, keepAliveCount: 10, lifetimeCount: 100 };

interface Result {
  name: string;
  delivered: number;
  seconds: number;
  serverSeconds: number;
}

const fixture = new OpcuaFixture();
const scratch = mkdtempSync(join(tmpdir(), 'gg-bench-opcua-'));

/** Runs one burst; `delivered()` counts what the consumer under test has got so far. */
async function measure(name: string, delivered: () => number): Promise<Result> {
  const before = delivered();
  const started = process.hrtime.bigint();
  let lastChangeAt = started;
  let last = before;
  const watch = setInterval(() => {
    const now = delivered();
    if (now !== last) {
      last = now;
      lastChangeAt = process.hrtime.bigint();
    }
  }, 1);
  const serverSeconds = await fixture.burst('Bench.Toggle', CHANGES);
  // Done when everything arrived, or when nothing more arrived for two seconds (changes lost).
  await waitFor(() => delivered() - before >= CHANGES || Number(process.hrtime.bigint() - lastChangeAt) / 1e9 > 2, `${name} to finish`, 120_000, 5);
  clearInterval(watch);
  const end = delivered() - before >= CHANGES ? process.hrtime.bigint() : lastChangeAt;
  return { name, delivered: delivered() - before, seconds: Number(end - started) / 1e9, serverSeconds };
}

async function baseline(): Promise<Result> {
  const certificateManager = new OPCUACertificateManager({ rootFolder: join(scratch, 'raw-pki'), automaticallyAcceptUnknownCertificate: true });
  await certificateManager.initialize();
  const client = OPCUAClient.create({ endpointMustExist: false, securityMode: MessageSecurityMode.None, securityPolicy: SecurityPolicy.None, clientCertificateManager: certificateManager, connectionStrategy: { maxRetry: 0 } });
  await client.connect(fixture.endpoint);
  const session = await client.createSession();
  const subscription = await session.createSubscription2({
    requestedPublishingInterval: SUBSCRIPTION.publishingIntervalMs,
    requestedLifetimeCount: SUBSCRIPTION.lifetimeCount,
    requestedMaxKeepAliveCount: SUBSCRIPTION.keepAliveCount,
    maxNotificationsPerPublish: 0,
    publishingEnabled: true,
    priority: 1,
  });
  const item = await subscription.monitor(
    { nodeId: NODE, attributeId: AttributeIds.Value },
    { samplingInterval: SUBSCRIPTION.samplingIntervalMs, queueSize: SUBSCRIPTION.queueSize, discardOldest: true },
    TimestampsToReturn.Both,
  );
  let notifications = 0;
  let first = true;
  item.on('changed', () => {
    // The first notification is the current value, not a change of the burst.
    if (first) first = false;
    else notifications++;
  });
  await waitFor(() => !first, 'initial value');
  const result = await measure('baseline: raw node-opcua subscription', () => notifications);
  await subscription.terminate();
  await session.close();
  await client.disconnect();
  await certificateManager.dispose();
  return result;
}

const benchDevice = {
  id: 'bench-1',
  kind: 'sensor',
  location: { zone: 'z-north' },
  opcua: { server: 'bench', nodes: [{ nodeId: NODE, normal: false, events: [{ value: true, type: 'intrusion.detected' }, { value: false, type: 'sensor.restored' }] }] },
};

async function driverOnly(): Promise<Result> {
  let events = 0;
  const rec = new RecordingContext([opcuaDevice(benchDevice)], () => void events++);
  const driver = new OpcuaDriver(rec.ctx, [opcuaServer({ id: 'bench', endpoint: fixture.endpoint, acceptUnknownServerCertificate: true, ...SUBSCRIPTION })], { pkiDir: join(scratch, 'driver-pki') });
  await driver.start();
  await waitFor(() => driver.health().bench?.connected, 'driver connected', 30_000);
  const result = await measure('driver: OpcuaDriver → ingest callback', () => events);
  await driver.stop();
  return result;
}

let gatewaySite: Record<string, unknown> | null = null;

async function throughGateway(): Promise<Result> {
  if (!gatewaySite) {
    gatewaySite = await testSite({ opcuaServers: [{ id: 'bench', endpoint: fixture.endpoint, acceptUnknownServerCertificate: true, ...SUBSCRIPTION }], rules: [] });
    gatewaySite.devices = [...(gatewaySite.devices as unknown[]), { ...benchDevice, transport: 'opcua' }];
  }
  const gw = await startGateway(gatewaySite);
  let stored = 0;
  gw.gateway.services.bus.on('event.stored', () => void stored++);
  await waitFor(async () => ((await gw.gateway.status()).links as Record<string, { connected: boolean }>).bench?.connected, 'gateway connected', 30_000);
  const result = await measure('gateway: driver → pipeline → SQLite (FULL)', () => stored);
  await gw.stop();
  return result;
}

const ROUNDS = 3;
await fixture.start();
try {
  // One unmeasured burst first: the server's and the client's code paths get compiled.
  await baseline();
  const runs: Result[][] = [[], [], []];
  for (let round = 0; round < ROUNDS; round++) {
    runs[0]!.push(await baseline());
    runs[1]!.push(await driverOnly());
    runs[2]!.push(await throughGateway());
  }
  const rate = (r: Result) => r.delivered / r.seconds;
  const median = (rs: Result[]) => [...rs].sort((a, b) => rate(a) - rate(b))[Math.floor(rs.length / 2)]!;
  const base = rate(median(runs[0]!));
  console.log(`\nOPC-UA value changes → events: ${CHANGES} changes of one Boolean node per run, ${ROUNDS} rounds (median shown), publishing ${SUBSCRIPTION.publishingIntervalMs} ms, on-change sampling\n`);
  console.log('| run | delivered | seconds | changes/s (median) | all rounds, changes/s | ratio to baseline |');
  console.log('|---|---|---|---|---|---|');
  for (const rs of runs) {
    const m = median(rs);
    const all = rs.map((r) => Math.round(rate(r)).toLocaleString('en')).join(' / ');
    console.log(`| ${m.name} | ${m.delivered}/${CHANGES} | ${m.seconds.toFixed(2)} | ${Math.round(rate(m)).toLocaleString('en')} | ${all} | ${(rate(m) / base).toFixed(2)} |`);
  }
  const os = await import('node:os');
  console.log(`\nserver write time per burst (s): ${runs.flat().map((r) => r.serverSeconds.toFixed(2)).join(' ')}`);
  console.log(`node ${process.version}, ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
} finally {
  await fixture.stop();
}
process.exit(0);
