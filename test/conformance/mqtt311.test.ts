/**
 * MQTT 3.1.1 conformance of the embedded broker as devices see it, written from the OASIS
 * specification (mqtt-v3.1.1-os); every test names the normative statement it checks.
 * Generic cases run as anonymous test-bench clients (environment: test-bench,
 * broker.testBench.allowAnonymous), sandboxed under their own topics; device-specific cases
 * use a provisioned device.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/net.ts';
import { benchClient, benchSite, collect } from './bench.ts';
import { RawMqtt } from './raw-client.ts';

let gw: TestGateway;
let port: number;

beforeAll(async () => {
  gw = await startGateway(await benchSite());
  port = gw.gateway.ports.mqtt;
});
afterAll(async () => {
  await gw?.stop();
});

/** Publishes a marker after the thing under test: once the marker arrives, anything sent before it has arrived too. */
async function marker(topic: string, got: { topic: string; payload: string }[], url = gw.mqttUrl): Promise<void> {
  const pub = await benchClient(url, `marker-${Math.random().toString(36).slice(2, 8)}`);
  const payload = `marker-${Date.now()}-${Math.random()}`;
  await pub.publishAsync(topic, payload, { qos: 1 });
  await waitFor(() => got.some((m) => m.payload === payload), `marker on ${topic}`);
  await pub.endAsync();
}

describe('CONNECT and CONNACK', () => {
  it('[MQTT-3.1.3-8] an empty client id with clean session 0 gets CONNACK 0x02 and the connection is closed', async () => {
    const raw = await RawMqtt.open(port);
    // By hand: mqtt-packet refuses to encode this CONNECT. Flags 0x00 = clean session 0; client id of length 0.
    raw.sendBytes(Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x00, 0, 30, 0, 0]));
    const connack = await raw.next('connack');
    expect(connack.returnCode).toBe(2);
    expect(connack.sessionPresent).toBe(false);
    await raw.waitClosed();
  });

  it('[MQTT-3.1.3-6] [MQTT-3.1.3-7] an empty client id with clean session 1 is accepted with a server-assigned id', async () => {
    const raw = await RawMqtt.open(port);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: '', keepalive: 30 });
    expect((await raw.next('connack')).returnCode).toBe(0);
    raw.send({ cmd: 'pingreq' });
    await raw.next('pingresp');
    raw.end();
  });

  it('[MQTT-3.1.0-2] a second CONNECT on the same connection is a protocol violation: the connection is closed', async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'twice' });
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'twice', keepalive: 30 });
    await raw.waitClosed();
  });

  it('[MQTT-3.1.0-1] a first packet other than CONNECT closes the connection', async () => {
    const raw = await RawMqtt.open(port);
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'bench/x', qos: 0 }] });
    await raw.waitClosed();
    expect(raw.received.filter((p) => p.cmd === 'suback')).toEqual([]);
  });

  it('[MQTT-3.1.2-2] an MQTT 5 device (protocol level 5) gets CONNACK 0x01 and is disconnected', async () => {
    const raw = await RawMqtt.open(port);
    // CONNECT, protocol name "MQTT", level 5, clean, keepalive 30, no properties, client id "lv"
    raw.sendBytes(Buffer.from([0x10, 15, 0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 0x02, 0, 30, 0, 0, 2, 0x6c, 0x76]));
    const connack = await raw.next('connack');
    expect(connack.returnCode).toBe(1);
    await raw.waitClosed();
  });

  it('[MQTT-3.1.2-2] a protocol level that is no MQTT version at all closes the connection (known deviation: no CONNACK 0x01)', async () => {
    // mqtt-packet's parser refuses levels other than 3, 4 and 5 before aedes sees the CONNECT, so
    // aedes cannot answer 0x01; the connection is closed instead. See docs/reliability.md.
    const raw = await RawMqtt.open(port);
    raw.sendBytes(Buffer.from([0x10, 14, 0, 4, 0x4d, 0x51, 0x54, 0x54, 9, 0x02, 0, 30, 0, 2, 0x6c, 0x76]));
    await raw.waitClosed();
    expect(raw.received.filter((p) => p.cmd === 'connack' && (p as any).returnCode === 0)).toEqual([]);
  });

  it('[MQTT-3.1.2-3] a CONNECT whose reserved flag is set closes the connection', async () => {
    const raw = await RawMqtt.open(port);
    raw.sendBytes(Buffer.from([0x10, 14, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x03, 0, 30, 0, 2, 0x72, 0x66]));
    await raw.waitClosed();
    expect(raw.received.some((p) => p.cmd === 'connack' && (p as any).returnCode === 0)).toBe(false);
  });

  it('[MQTT-3.2.2-1] [MQTT-3.2.2-2] session present is 0 for a clean session and 1 when a stored session resumes', async () => {
    const first = await benchClient(gw.mqttUrl, 'sp-1', { clean: false });
    await first.subscribeAsync('bench/sp/x', { qos: 1 });
    await first.endAsync();
    const again = await RawMqtt.open(port);
    again.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, clientId: 'sp-1', keepalive: 30 });
    expect((await again.next('connack')).sessionPresent).toBe(true);
    again.end();
    const clean = await RawMqtt.open(port);
    clean.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'sp-1', keepalive: 30 });
    expect((await clean.next('connack')).sessionPresent).toBe(false);
    clean.end();
  });

  it('[MQTT-3.1.4-2] a second connection with the same client id takes over: the first is closed', async () => {
    const a = await RawMqtt.connected(port, { clientId: 'takeover' });
    const b = await RawMqtt.connected(port, { clientId: 'takeover' });
    await a.waitClosed();
    b.send({ cmd: 'pingreq' });
    await b.next('pingresp');
    b.end();
  });
});

describe('keepalive', () => {
  it('[MQTT-3.12.4-1] PINGREQ is answered with PINGRESP', async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'ping', keepalive: 30 });
    raw.send({ cmd: 'pingreq' });
    await raw.next('pingresp');
    raw.end();
  });

  it('[MQTT-3.1.2-24] a client silent for more than 1.5 × keepalive is disconnected, and not before the keepalive', async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'silent', keepalive: 1 });
    const opened = Date.now();
    await raw.waitClosed(15_000);
    // Only a lower bound: a loaded machine makes timers late, never early.
    expect(Date.now() - opened).toBeGreaterThanOrEqual(1000);
  });

  it('[MQTT-3.1.2-24] a client that keeps pinging within its keepalive stays connected', async () => {
    // keepalive 2 s, a ping every 300 ms: a wide margin, since a stalled test process delays both sides.
    const raw = await RawMqtt.connected(port, { clientId: 'pinger', keepalive: 2 });
    for (let i = 0; i < 12; i++) {
      await new Promise((r) => setTimeout(r, 300));
      raw.send({ cmd: 'pingreq' });
      await raw.next('pingresp');
    }
    expect(raw.closed).toBe(false);
    raw.end();
  });
});

describe('retained messages', () => {
  it('[MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-8] a retained message is stored and sent to a new subscriber with RETAIN 1', async () => {
    const pub = await benchClient(gw.mqttUrl, 'ret-pub');
    await pub.publishAsync('bench/ret/a', 'first', { qos: 1, retain: true });
    await pub.publishAsync('bench/ret/a', 'last', { qos: 1, retain: true });
    const sub = await benchClient(gw.mqttUrl, 'ret-sub');
    const got = collect(sub);
    await sub.subscribeAsync('bench/ret/+', { qos: 1 });
    const m = await waitFor(() => got.find((g) => g.topic === 'bench/ret/a'), 'retained message');
    expect(m.payload).toBe('last');
    expect(m.packet.retain).toBe(true);
    await marker('bench/ret/zz', got);
    expect(got.filter((g) => g.topic === 'bench/ret/a').map((g) => g.payload)).toEqual(['last']);
    await pub.endAsync();
    await sub.endAsync();
  });

  it('[MQTT-3.3.1-9] a retained message sent to an existing subscription goes out with RETAIN 0', async () => {
    const sub = await benchClient(gw.mqttUrl, 'ret-live-sub');
    const got = collect(sub);
    await sub.subscribeAsync('bench/retlive/a', { qos: 1 });
    const pub = await benchClient(gw.mqttUrl, 'ret-live-pub');
    await pub.publishAsync('bench/retlive/a', 'live', { qos: 1, retain: true });
    const m = await waitFor(() => got.find((g) => g.payload === 'live'), 'live retained message');
    expect(m.packet.retain).toBe(false);
    await pub.publishAsync('bench/retlive/a', '', { qos: 1, retain: true });
    await pub.endAsync();
    await sub.endAsync();
  });

  it('[MQTT-3.3.1-10] [MQTT-3.3.1-11] a zero-byte retained PUBLISH removes the retained message', async () => {
    const pub = await benchClient(gw.mqttUrl, 'ret-clear-pub');
    await pub.publishAsync('bench/retclear/a', 'kept?', { qos: 1, retain: true });
    await pub.publishAsync('bench/retclear/a', '', { qos: 1, retain: true });
    const sub = await benchClient(gw.mqttUrl, 'ret-clear-sub');
    const got = collect(sub);
    await sub.subscribeAsync('bench/retclear/#', { qos: 1 });
    await marker('bench/retclear/zz', got);
    expect(got.filter((g) => g.topic === 'bench/retclear/a')).toEqual([]);
    await pub.endAsync();
    await sub.endAsync();
  });

  it('[MQTT-3.3.1-7] a QoS 0 retained message replaces the retained message on its topic', async () => {
    const pub = await benchClient(gw.mqttUrl, 'ret0-pub');
    await pub.publishAsync('bench/ret0/a', 'qos1', { qos: 1, retain: true });
    await pub.publishAsync('bench/ret0/a', 'qos0', { qos: 0, retain: true });
    await pub.publishAsync('bench/ret0/fence', 'x', { qos: 1 });
    const sub = await benchClient(gw.mqttUrl, 'ret0-sub');
    const got = collect(sub);
    await sub.subscribeAsync('bench/ret0/a', { qos: 1 });
    const m = await waitFor(() => got.find((g) => g.topic === 'bench/ret0/a'), 'retained');
    expect(m.payload).toBe('qos0');
    await pub.endAsync();
    await sub.endAsync();
  });
});

describe('QoS 1 and QoS 2 flows', () => {
  it('[MQTT-4.3.2-2] [MQTT-3.4.0-1] a QoS 1 PUBLISH is answered by a PUBACK with its packet identifier', async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'q1-raw' });
    raw.send({ cmd: 'publish', topic: 'bench/q1/a', payload: Buffer.from('x'), qos: 1, messageId: 4242, retain: false, dup: false });
    expect((await raw.next('puback')).messageId).toBe(4242);
    raw.end();
  });

  it('[MQTT-3.8.4-6] [MQTT-3.9.3-1] messages go out at the lower of published and granted QoS; SUBACK codes follow the filters in order', async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'q-sub-raw' });
    raw.send({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'bench/qmin/zero', qos: 0 }, { topic: 'bench/qmin/two', qos: 2 }, { topic: 'bench/qmin/one', qos: 1 }] });
    const suback = await raw.next('suback');
    expect(suback.messageId).toBe(7);
    expect(suback.granted).toEqual([0, 2, 1]);
    const pub = await benchClient(gw.mqttUrl, 'q-pub');
    await pub.publishAsync('bench/qmin/zero', 'a', { qos: 2 });
    await pub.publishAsync('bench/qmin/two', 'b', { qos: 1 });
    await pub.publishAsync('bench/qmin/one', 'c', { qos: 2 });
    const zero = await raw.next('publish', (p) => p.topic === 'bench/qmin/zero');
    const two = await raw.next('publish', (p) => p.topic === 'bench/qmin/two');
    const one = await raw.next('publish', (p) => p.topic === 'bench/qmin/one');
    expect([zero.qos, two.qos, one.qos]).toEqual([0, 1, 1]);
    // [MQTT-2.3.1-1] a packet id on QoS > 0 only
    expect(two.messageId).toBeGreaterThan(0);
    raw.send({ cmd: 'puback', messageId: two.messageId });
    raw.send({ cmd: 'puback', messageId: one.messageId });
    await pub.endAsync();
    raw.end();
  });

  it('[MQTT-4.3.3-2] QoS 2 inbound: PUBREC, and a retransmitted PUBLISH before PUBREL is delivered only once; PUBREL gets PUBCOMP', async () => {
    const sub = await benchClient(gw.mqttUrl, 'q2-sub');
    const got = collect(sub);
    await sub.subscribeAsync('bench/q2/#', { qos: 2 });
    const raw = await RawMqtt.connected(port, { clientId: 'q2-raw' });
    const publish = { cmd: 'publish' as const, topic: 'bench/q2/a', payload: Buffer.from('once'), qos: 2 as const, messageId: 77, retain: false, dup: false };
    raw.send(publish);
    expect((await raw.next('pubrec')).messageId).toBe(77);
    raw.send({ ...publish, dup: true });
    expect((await raw.next('pubrec')).messageId).toBe(77);
    raw.send({ cmd: 'pubrel', messageId: 77 });
    expect((await raw.next('pubcomp')).messageId).toBe(77);
    await marker('bench/q2/zz', got);
    expect(got.filter((g) => g.payload === 'once')).toHaveLength(1);
    raw.end();
    await sub.endAsync();
  });

  it('[MQTT-4.3.3-1] QoS 2 outbound: the broker sends PUBLISH, answers PUBREC with PUBREL, and stops at PUBCOMP', async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'q2-out' });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'bench/q2out/a', qos: 2 }] });
    await raw.next('suback');
    const pub = await benchClient(gw.mqttUrl, 'q2-out-pub');
    await pub.publishAsync('bench/q2out/a', 'two', { qos: 2 });
    const p = await raw.next('publish');
    expect(p.qos).toBe(2);
    raw.send({ cmd: 'pubrec', messageId: p.messageId });
    expect((await raw.next('pubrel')).messageId).toBe(p.messageId);
    raw.send({ cmd: 'pubcomp', messageId: p.messageId });
    raw.send({ cmd: 'pingreq' });
    await raw.next('pingresp');
    expect(raw.take('publish')).toEqual([]);
    await pub.endAsync();
    raw.end();
  });
});

describe('will messages', () => {
  it('[MQTT-3.1.2-8] the will is published when the connection is lost without DISCONNECT, retained when asked [MQTT-3.1.2-17]', async () => {
    const raw = await RawMqtt.connected(port, {
      clientId: 'will-lost',
      will: { topic: 'bench/will/lost', payload: Buffer.from('gone'), qos: 1, retain: true },
    });
    const sub = await benchClient(gw.mqttUrl, 'will-sub');
    const got = collect(sub);
    await sub.subscribeAsync('bench/will/#', { qos: 1 });
    raw.kill();
    const m = await waitFor(() => got.find((g) => g.topic === 'bench/will/lost'), 'will message');
    expect(m.payload).toBe('gone');
    const late = await benchClient(gw.mqttUrl, 'will-late');
    const lateGot = collect(late);
    await late.subscribeAsync('bench/will/lost', { qos: 1 });
    const retained = await waitFor(() => lateGot.find((g) => g.topic === 'bench/will/lost'), 'retained will');
    expect(retained.packet.retain).toBe(true);
    await sub.endAsync();
    await late.endAsync();
  });

  it('[MQTT-3.1.2-10] [MQTT-3.14.4-3] a clean DISCONNECT discards the will', async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'will-clean', will: { topic: 'bench/willclean/a', payload: Buffer.from('never'), qos: 1, retain: false } });
    const sub = await benchClient(gw.mqttUrl, 'will-clean-sub');
    const got = collect(sub);
    await sub.subscribeAsync('bench/willclean/#', { qos: 1 });
    raw.end();
    await raw.waitClosed();
    await marker('bench/willclean/zz', got);
    expect(got.filter((g) => g.topic === 'bench/willclean/a')).toEqual([]);
    await sub.endAsync();
  });
});

describe('persistent sessions and redelivery', () => {
  it('[MQTT-3.1.2-4] [MQTT-3.1.2-5] with clean session 0 subscriptions survive and QoS 1 messages sent while away are delivered', async () => {
    const first = await benchClient(gw.mqttUrl, 'persist-1', { clean: false });
    await first.subscribeAsync('bench/persist/a', { qos: 1 });
    await first.endAsync();
    const pub = await benchClient(gw.mqttUrl, 'persist-pub');
    await pub.publishAsync('bench/persist/a', 'while-away', { qos: 1 });
    await pub.publishAsync('bench/persist/a', 'qos0-away', { qos: 0 });
    await pub.endAsync();
    const raw = await RawMqtt.open(port);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, clientId: 'persist-1', keepalive: 30 });
    expect((await raw.next('connack')).sessionPresent).toBe(true);
    const m = await raw.next('publish', (p) => p.payload.toString() === 'while-away');
    expect(m.qos).toBe(1);
    raw.send({ cmd: 'puback', messageId: m.messageId });
    raw.end();
  });

  it('[MQTT-4.4.0-1] [MQTT-3.3.1-1] an unacknowledged QoS 1 message is resent with DUP 1 when the session resumes', async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'redeliver', clean: false });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'bench/redeliver/a', qos: 1 }] });
    await raw.next('suback');
    const pub = await benchClient(gw.mqttUrl, 'redeliver-pub');
    await pub.publishAsync('bench/redeliver/a', 'ack-me', { qos: 1 });
    const first = await raw.next('publish');
    expect(first.dup).toBe(false);
    raw.kill(); // no PUBACK
    await waitFor(() => !gw.gateway.services.broker.connectedClientIds().includes('redeliver'), 'the broker to notice the lost connection');
    const again = await RawMqtt.open(port);
    again.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, clientId: 'redeliver', keepalive: 30 });
    await again.next('connack');
    const resent = await again.next('publish');
    expect(resent.payload.toString()).toBe('ack-me');
    expect(resent.dup).toBe(true);
    expect(resent.messageId).toBe(first.messageId);
    again.send({ cmd: 'puback', messageId: resent.messageId });
    again.end();
    await pub.endAsync();
  });

  it('[MQTT-3.1.2-6] clean session 1 discards the previous session', async () => {
    const first = await benchClient(gw.mqttUrl, 'discard-1', { clean: false });
    await first.subscribeAsync('bench/discard/a', { qos: 1 });
    await first.endAsync();
    const second = await benchClient(gw.mqttUrl, 'discard-1', { clean: true });
    await second.endAsync();
    const pub = await benchClient(gw.mqttUrl, 'discard-pub');
    await pub.publishAsync('bench/discard/a', 'nobody', { qos: 1 });
    await pub.endAsync();
    const raw = await RawMqtt.open(port);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, clientId: 'discard-1', keepalive: 30 });
    expect((await raw.next('connack')).sessionPresent).toBe(false);
    raw.send({ cmd: 'pingreq' });
    await raw.next('pingresp');
    expect(raw.take('publish')).toEqual([]);
    raw.end();
  });
});

describe('subscriptions', () => {
  // Known aedes 1.2 deviation, kept visible: it delivers one copy per client, taken from whichever
  // matching subscription its matcher yields first (here the QoS 0 one). it.fails turns green into
  // red the day aedes delivers at the highest QoS, so this note cannot go stale. Our devices are
  // not affected: the ACL lets each subscribe to one exact filter only.
  it.fails('[MQTT-3.3.5-1] overlapping subscriptions: the message is delivered respecting the highest QoS of the matching filters', async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'overlap' });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'bench/overlap/#', qos: 0 }, { topic: 'bench/overlap/+', qos: 1 }] });
    expect((await raw.next('suback')).granted).toEqual([0, 1]);
    const pub = await benchClient(gw.mqttUrl, 'overlap-pub');
    await pub.publishAsync('bench/overlap/a', 'both', { qos: 1 });
    await pub.publishAsync('bench/overlap/b/fence', 'fence', { qos: 1 });
    await raw.next('publish', (p) => p.payload.toString() === 'fence');
    const copies = raw.take('publish').filter((p) => p.payload.toString() === 'both');
    expect(copies.length).toBeGreaterThanOrEqual(1);
    expect(Math.max(...copies.map((p) => p.qos))).toBe(1);
    for (const p of copies) if (p.qos > 0) raw.send({ cmd: 'puback', messageId: p.messageId });
    await pub.endAsync();
    raw.end();
  });

  it('[MQTT-3.8.4-3] subscribing again to the same filter replaces the subscription (new QoS, no second copy)', async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'resub' });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'bench/resub/a', qos: 0 }] });
    await raw.next('suback');
    raw.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'bench/resub/a', qos: 1 }] });
    await raw.next('suback');
    const pub = await benchClient(gw.mqttUrl, 'resub-pub');
    await pub.publishAsync('bench/resub/a', 'one', { qos: 1 });
    await pub.publishAsync('bench/resub/a', 'fence', { qos: 1 });
    const fence = await raw.next('publish', (p) => p.payload.toString() === 'fence');
    const ones = raw.take('publish').filter((p) => p.payload.toString() === 'one');
    expect(ones).toHaveLength(1);
    expect(ones[0].qos).toBe(1);
    raw.send({ cmd: 'puback', messageId: ones[0].messageId });
    raw.send({ cmd: 'puback', messageId: fence.messageId });
    await pub.endAsync();
    raw.end();
  });

  it('[MQTT-3.10.4-4] [MQTT-3.10.4-5] UNSUBSCRIBE is acknowledged even for an unknown filter, and delivery stops', async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'unsub' });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'bench/unsub/a', qos: 0 }, { topic: 'bench/unsub/fence', qos: 0 }] });
    await raw.next('suback');
    raw.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['bench/unsub/a', 'bench/never/subscribed'] });
    expect((await raw.next('unsuback')).messageId).toBe(2);
    const pub = await benchClient(gw.mqttUrl, 'unsub-pub');
    await pub.publishAsync('bench/unsub/a', 'after', { qos: 1 });
    await pub.publishAsync('bench/unsub/fence', 'fence', { qos: 1 });
    await raw.next('publish', (p) => p.topic === 'bench/unsub/fence');
    expect(raw.take('publish').filter((p) => p.topic === 'bench/unsub/a')).toEqual([]);
    await pub.endAsync();
    raw.end();
  });

  it('[MQTT-3.8.1-1] a SUBSCRIBE with reserved header bits other than 0010 closes the connection', async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'sub-flags' });
    // 0x80 instead of 0x82; packet id 1; filter "a"; QoS 0
    raw.sendBytes(Buffer.from([0x80, 6, 0, 1, 0, 1, 0x61, 0]));
    await raw.waitClosed();
  });

  it('[MQTT-4.7.1-1] [MQTT-3.3.2-2] a wildcard in a PUBLISH topic closes the connection', async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'pub-wild' });
    raw.sendBytes(Buffer.from([0x30, 5, 0, 3, 0x61, 0x2f, 0x23])); // PUBLISH QoS 0 "a/#"
    await raw.waitClosed();
  });

  it('[MQTT-4.7.3-1] a zero-length PUBLISH topic closes the connection', async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'pub-empty' });
    raw.sendBytes(Buffer.from([0x30, 3, 0, 0, 0x78])); // PUBLISH QoS 0 "" payload "x"
    await raw.waitClosed();
  });
});

describe('$ topics', () => {
  it('[MQTT-4.7.2-1] # and +/… do not match topics starting with $; $SYS/# does', async () => {
    const all = await benchClient(gw.mqttUrl, 'dollar-all');
    const allGot = collect(all);
    await all.subscribeAsync(['#', '+/gridguard/probe'], { qos: 0 });
    const sys = await benchClient(gw.mqttUrl, 'dollar-sys');
    const sysGot = collect(sys);
    await sys.subscribeAsync('$SYS/gridguard/#', { qos: 0 });
    // Only the server publishes on $ topics.
    await gw.gateway.services.broker.publish('$SYS/gridguard/probe', 'server', { qos: 0 });
    await waitFor(() => sysGot.find((g) => g.topic === '$SYS/gridguard/probe'), '$SYS message');
    await marker('bench/dollar/fence', allGot);
    expect(allGot.filter((g) => g.topic.startsWith('$'))).toEqual([]);
    await all.endAsync();
    await sys.endAsync();
  });

  it('[MQTT-4.7.2-1] a client may not publish on a $ topic: the connection is closed and nothing is delivered', async () => {
    const sys = await benchClient(gw.mqttUrl, 'dollar-watch');
    const got = collect(sys);
    await sys.subscribeAsync(['$SYS/#', 'bench/dollarpub/#'], { qos: 0 });
    const raw = await RawMqtt.connected(port, { clientId: 'dollar-pub' });
    raw.send({ cmd: 'publish', topic: '$SYS/fake', payload: Buffer.from('spoof'), qos: 1, messageId: 1, retain: false, dup: false });
    await raw.waitClosed();
    expect(raw.received.filter((p) => p.cmd === 'puback')).toEqual([]);
    await marker('bench/dollarpub/fence', got);
    expect(got.filter((g) => g.topic === '$SYS/fake')).toEqual([]);
    await sys.endAsync();
  });
});

describe('the test bench is a sandbox', () => {
  it('bench clients cannot inject into devices/ or local/, nor read them through wildcards', async () => {
    const spy = await RawMqtt.connected(port, { clientId: 'bench-spy' });
    spy.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 1 }, { topic: 'devices/#', qos: 1 }, { topic: 'local/alerts/#', qos: 1 }] });
    expect((await spy.next('suback')).granted).toEqual([1, 128, 128]);
    const device = await connectDevice(gw.mqttUrl, 'ac-1');
    await device.publishAsync('devices/ac-1/events', JSON.stringify({ type: 'door.forced' }), { qos: 1 });
    await waitFor(() => gw.gateway.services.store.alerts.list().some((a) => a.deviceId === 'ac-1'), 'the alert from the real device');
    const pub = await benchClient(gw.mqttUrl, 'sandbox-fence');
    await pub.publishAsync('bench/sandbox/fence', 'fence', { qos: 1 });
    await spy.next('publish', (p) => p.topic === 'bench/sandbox/fence');
    await pub.endAsync();
    expect(spy.received.filter((p: any) => p.cmd === 'publish' && (p.topic.startsWith('devices/') || p.topic.startsWith('local/')))).toEqual([]);
    spy.end();
    const before = gw.gateway.services.store.events.count();
    const injector = await RawMqtt.connected(port, { clientId: 'bench-injector' });
    injector.send({ cmd: 'publish', topic: 'devices/ac-2/events', payload: Buffer.from('{"type":"door.forced"}'), qos: 1, messageId: 1, retain: false, dup: false });
    await injector.waitClosed();
    expect(gw.gateway.services.store.events.count()).toBe(before);
    await device.endAsync();
  });
});

describe('device publishes', () => {
  it('[MQTT-4.3.2-2] a device PUBACK means the event is already stored (ownership accepted), not merely received', async () => {
    const device = await connectDevice(gw.mqttUrl, 'ac-2');
    for (let i = 0; i < 20; i++) {
      const before = gw.gateway.services.store.events.query({ deviceId: 'ac-2', limit: 1000 }).length;
      await device.publishAsync('devices/ac-2/events', JSON.stringify({ type: 'door.opened', seq: i }), { qos: 1 });
      // No waiting: the PUBACK itself is the promise.
      expect(gw.gateway.services.store.events.query({ deviceId: 'ac-2', limit: 1000 }).length).toBe(before + 1);
    }
    await device.endAsync();
  });

  it('[MQTT-4.3.3-2] a device QoS 2 event is stored exactly once even when the PUBLISH is retransmitted before PUBREL', async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'dp-1', username: 'dp-1', password: Buffer.from((await import('../helpers/gateway.ts')).TEST_SECRETS['dp-1']!) });
    const before = gw.gateway.services.store.events.query({ deviceId: 'dp-1', limit: 1000 }).length;
    const publish = { cmd: 'publish' as const, topic: 'devices/dp-1/events', payload: Buffer.from(JSON.stringify({ type: 'doorplate.sos' })), qos: 2 as const, messageId: 9, retain: false, dup: false };
    raw.send(publish);
    await raw.next('pubrec');
    expect(gw.gateway.services.store.events.query({ deviceId: 'dp-1', limit: 1000 }).length).toBe(before + 1);
    raw.send({ ...publish, dup: true });
    await raw.next('pubrec');
    raw.send({ cmd: 'pubrel', messageId: 9 });
    await raw.next('pubcomp');
    expect(gw.gateway.services.store.events.query({ deviceId: 'dp-1', limit: 1000 }).length).toBe(before + 1);
    raw.end();
  });
});
