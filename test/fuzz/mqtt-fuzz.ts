import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { connect, type Socket } from 'node:net';
import { EVENT_TYPES } from '../../gateway/core/model.ts';
import { connectDevice, TEST_SECRETS, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/net.ts';

const SECRET = Buffer.from(TEST_SECRETS['ac-1']!);
const CONNECT = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'ac-1', keepalive: 30, username: 'ac-1', password: SECRET });

function encodeLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/** A valid packet a device could send after CONNECT, as bytes. */
const validPacket = fc.oneof(
  fc.record({ topic: fc.constantFrom('devices/ac-1/events', 'devices/ac-1/heartbeat', 'devices/ac-2/events', 'x'), payload: fc.uint8Array({ maxLength: 200 }), qos: fc.constantFrom(0, 1, 2), id: fc.integer({ min: 1, max: 65_535 }) }).map(({ topic, payload, qos, id }) =>
    mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: qos as 0 | 1 | 2, messageId: id, retain: false, dup: false }),
  ),
  fc.record({ topic: fc.string({ minLength: 1, maxLength: 40 }), id: fc.integer({ min: 1, max: 65_535 }) }).map(({ topic, id }) => mqttPacket.generate({ cmd: 'subscribe', messageId: id, subscriptions: [{ topic, qos: 1 }] })),
  fc.integer({ min: 1, max: 65_535 }).map((id) => mqttPacket.generate({ cmd: 'puback', messageId: id })),
  fc.integer({ min: 1, max: 65_535 }).map((id) => mqttPacket.generate({ cmd: 'pubrel', messageId: id })),
  fc.constant(mqttPacket.generate({ cmd: 'pingreq' })),
);

const toBuffer = (bytes: Uint8Array | number[]) => Buffer.from(bytes);

/** Malformed input of the kinds the issue names, each labelled for the report. */
export const malformed = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 512 }).map((b) => ({ kind: 'random bytes', preConnect: false, bytes: toBuffer(b) })),
  fc.uint8Array({ minLength: 1, maxLength: 512 }).map((b) => ({ kind: 'random bytes before CONNECT', preConnect: true, bytes: toBuffer(b) })),
  fc.tuple(validPacket, fc.nat()).map(([p, cut]) => ({ kind: 'truncated packet', preConnect: false, bytes: p.subarray(0, Math.max(1, cut % p.length)) })),
  fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 2 * 1024 * 1024 + 1, max: 268_435_455 }), fc.uint8Array({ maxLength: 64 })).map(([type, len, tail]) => ({
    kind: 'huge remaining length',
    preConnect: false,
    bytes: Buffer.from([(type << 4) | 0x02, ...encodeLength(len), ...tail]),
  })),
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ minLength: 4, maxLength: 5 })).map(([type, len]) => ({
    kind: 'remaining length of 5 bytes',
    preConnect: false,
    bytes: Buffer.from([type, ...Array.from(len, (b) => b | 0x80), 0x01]),
  })),
  fc.tuple(fc.constantFrom([0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0x00], [0xf8, 0x88, 0x80, 0x80, 0x80]), fc.boolean()).map(([bad, subscribe]) => {
    const topic = Buffer.concat([Buffer.from('devices/ac-1/'), Buffer.from(bad)]);
    const body = subscribe ? Buffer.concat([Buffer.from([0, 7, topic.length >> 8, topic.length & 0xff]), topic, Buffer.from([1])]) : Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, Buffer.from('{}')]);
    return { kind: 'bad UTF-8 topic', preConnect: false, bytes: Buffer.from([subscribe ? 0x82 : 0x30, ...encodeLength(body.length), ...body]) };
  }),
  fc.tuple(validPacket, fc.integer({ min: 0, max: 15 })).map(([p, flags]) => {
    const b = Buffer.from(p);
    b[0] = (b[0]! & 0xf0) | flags;
    return { kind: 'invalid flags', preConnect: false, bytes: b };
  }),
);

export interface FuzzReport {
  runs: number;
  byKind: Record<string, number>;
  /** Connections the broker closed itself, before the client ended its side. */
  closedByBroker: number;
  peakRssMiB: number;
  healthChecks: number;
}

/**
 * Sends each malformed input on a fresh connection (after a valid device CONNECT unless the case
 * is about the handshake), then ends its side and waits for the broker to close. Every
 * `checkEvery` runs a well-behaved device must still get a stored, acknowledged event through.
 */
export async function fuzzMqtt(gw: TestGateway, numRuns: number, checkEvery = 50, seed?: number): Promise<FuzzReport> {
  const port = gw.gateway.ports.mqtt;
  const report: FuzzReport = { runs: 0, byKind: {}, closedByBroker: 0, peakRssMiB: 0, healthChecks: 0 };
  let peak = process.memoryUsage().rss;
  await fc.assert(
    fc.asyncProperty(malformed, async (input) => {
      report.runs++;
      report.byKind[input.kind] = (report.byKind[input.kind] ?? 0) + 1;
      const socket = await open(port);
      let closed = false;
      let ended = false;
      socket.on('close', () => {
        closed = true;
        if (!ended) report.closedByBroker++;
      });
      socket.on('error', () => {});
      socket.on('data', () => {});
      if (!input.preConnect) socket.write(CONNECT);
      socket.write(input.bytes);
      // Then behave like a half-dead client: stop sending. The broker must close the connection
      // (bad input) or see our FIN and close it; it must never leave it hanging.
      setTimeout(() => {
        ended = true;
        socket.end();
      }, 20);
      await waitFor(() => closed, `the broker to close the connection after ${input.kind}`, 15_000);
      peak = Math.max(peak, process.memoryUsage().rss);
      if (report.runs % checkEvery === 0) {
        await wellBehavedDeviceWorks(gw);
        report.healthChecks++;
      }
    }),
    { numRuns, ...(seed !== undefined ? { seed } : {}) },
  );
  await wellBehavedDeviceWorks(gw);
  report.healthChecks++;
  report.peakRssMiB = peak / 2 ** 20;
  return report;
}

let healthSeq = 0;
/** ac-2 publishes an event; its PUBACK means stored (see the conformance suite), so check the store. */
export async function wellBehavedDeviceWorks(gw: TestGateway): Promise<void> {
  const device = await connectDevice(gw.mqttUrl, 'ac-2');
  const before = (gw.gateway.services.store.db.prepare("SELECT COUNT(*) AS n FROM events WHERE device_id = 'ac-2'").get() as { n: number }).n;
  await device.publishAsync('devices/ac-2/events', JSON.stringify({ type: 'door.opened', health: ++healthSeq }), { qos: 1 });
  const after = (gw.gateway.services.store.db.prepare("SELECT COUNT(*) AS n FROM events WHERE device_id = 'ac-2'").get() as { n: number }).n;
  await device.endAsync();
  if (after !== before + 1) throw new Error(`well-behaved device: expected its event stored (${before} → ${after})`);
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Event times, including numbers beyond what a Date holds (|ms| > 8.64e15). */
const eventTime = fc.oneof(fc.string(), fc.double(), fc.integer(), fc.constant(null), fc.constant(8.64e15), fc.constant(1e300));

/** Device JSON of every shape: broken text, wrong types, huge, deep, and near-valid events. */
export const deviceMessage = fc.oneof(
  { arbitrary: fc.string({ maxLength: 300 }).map((s) => ({ kind: 'random text', topic: 'events', payload: Buffer.from(s) })), weight: 2 },
  { arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => ({ kind: 'random bytes', topic: 'events', payload: Buffer.from(b) })), weight: 1 },
  { arbitrary: fc.tuple(fc.jsonValue({ maxDepth: 6 }), fc.constantFrom('events', 'heartbeat', 'availability', 'commands/result', 'snapshot', 'nope/deeper')).map(([v, topic]) => ({ kind: 'any JSON', topic, payload: Buffer.from(JSON.stringify(v) ?? 'null') })), weight: 3 },
  {
    arbitrary: fc
      .record({ type: fc.oneof(fc.constantFrom(...EVENT_TYPES), fc.string()), ts: eventTime, cardNo: fc.oneof(fc.string(), fc.integer()), plate: fc.string(), feature: fc.array(fc.double(), { maxLength: 40 }) }, { requiredKeys: ['type'] })
      .map((e) => ({ kind: 'near-valid event', topic: 'events', payload: Buffer.from(JSON.stringify(e)) })),
    weight: 4,
  },
  { arbitrary: fc.integer({ min: 1, max: 20_000 }).map((depth) => ({ kind: 'deeply nested', topic: 'events', payload: Buffer.from('['.repeat(depth) + ']'.repeat(depth)) })), weight: 1 },
  { arbitrary: fc.integer({ min: 60_000, max: 1_500_000 }).map((n) => ({ kind: 'oversized JSON', topic: 'events', payload: Buffer.from(JSON.stringify({ type: 'door.opened', pad: 'x'.repeat(n) })) })), weight: 1 },
);

export interface JsonFuzzReport {
  messages: number;
  byKind: Record<string, number>;
  acked: number;
  eventsStored: number;
  rejected: Record<string, number>;
  peakRssMiB: number;
}

/**
 * Publishes `count` generated messages from ac-1 at QoS 1 (batches of 50 in flight), then checks
 * a well-behaved device. Every message must be acknowledged: bad JSON is refused and counted, not
 * a reason to drop the device's connection.
 */
export async function fuzzDeviceJson(gw: TestGateway, count: number, seed?: number): Promise<JsonFuzzReport> {
  const device = await connectDevice(gw.mqttUrl, 'ac-1');
  let disconnected = false;
  let onClose = () => {};
  const closed = new Promise<never>((_, reject) => (onClose = () => reject(new Error(`the gateway dropped the device after ${report.acked} acknowledged messages (see its gateway.log)`))));
  closed.catch(() => {});
  device.on('close', () => {
    disconnected = true;
    onClose();
  });
  const base = seed ?? Math.floor(Math.random() * 2 ** 31);
  const eventsBefore = (gw.gateway.services.store.db.prepare("SELECT COUNT(*) AS n FROM events WHERE device_id = 'ac-1'").get() as { n: number }).n;
  const rejectedBefore = (await gw.gateway.status()).rejected as Record<string, number>;
  const report: JsonFuzzReport = { messages: 0, byKind: {}, acked: 0, eventsStored: 0, rejected: {}, peakRssMiB: 0 };
  let peak = process.memoryUsage().rss;
  // Generated batch by batch (seed base+i) so that the test's own inputs do not fill its memory.
  for (let i = 0; i < count; i += 50) {
    const batch = fc.sample(deviceMessage, { numRuns: Math.min(50, count - i), seed: base + i });
    const sent = Promise.all(
      batch.map(async (m) => {
        report.messages++;
        report.byKind[m.kind] = (report.byKind[m.kind] ?? 0) + 1;
        await device.publishAsync(`devices/ac-1/${m.topic}`, m.payload, { qos: 1 });
        report.acked++;
      }),
    );
    try {
      await Promise.race([sent, closed]);
    } catch (error) {
      throw new Error(`${(error as Error).message}; fast-check seed ${base + i}, batch from message ${i}`);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    if (disconnected) throw new Error(`the gateway dropped the device after ${report.acked} messages`);
  }
  await device.endAsync();
  await wellBehavedDeviceWorks(gw);
  report.eventsStored = (gw.gateway.services.store.db.prepare("SELECT COUNT(*) AS n FROM events WHERE device_id = 'ac-1'").get() as { n: number }).n - eventsBefore;
  const rejectedAfter = (await gw.gateway.status()).rejected as Record<string, number>;
  for (const [k, v] of Object.entries(rejectedAfter)) if (v - (rejectedBefore[k] ?? 0) > 0) report.rejected[k] = v - (rejectedBefore[k] ?? 0);
  report.peakRssMiB = peak / 2 ** 20;
  return report;
}
