/**
 * The device-facing surface under abuse: every refusal is a CONNACK code or a closed connection,
 * a log line naming who and why, and a counter in GET /api/status → rejected; the gateway does
 * not crash and a well-behaved device's alerts keep arriving while it happens.
 */
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, startGateway, testSite, TEST_SECRETS, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/net.ts';
import { fingerprint } from '../../gateway/broker/broker.ts';
import { RawMqtt } from '../conformance/raw-client.ts';
import { AlertProbe } from '../reliability/alert-probe.ts';

let gw: TestGateway;
let port: number;

beforeAll(async () => {
  gw = await startGateway(await testSite());
  port = gw.gateway.ports.mqtt;
});
afterAll(async () => {
  await gw?.stop();
});

async function rejected(): Promise<Record<string, number>> {
  // What GET /api/status shows as "rejected" (the route itself now needs a console session).
  return (await gw.gateway.status()).rejected as Record<string, number>;
}

function logLines(): { level: number; msg: string; [k: string]: unknown }[] {
  return readFileSync(gw.logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** CONNECT by hand and return the CONNACK code (or 'closed' when the broker closed without one). */
async function connackOf(connect: { clientId: string; username?: string; password?: string; clean?: boolean }): Promise<number | 'closed'> {
  const raw = await RawMqtt.open(port);
  raw.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: connect.clean ?? true,
    keepalive: 30,
    clientId: connect.clientId,
    ...(connect.username !== undefined ? { username: connect.username } : {}),
    ...(connect.password !== undefined ? { password: Buffer.from(connect.password) } : {}),
  });
  await waitFor(() => raw.received.some((p) => p.cmd === 'connack') || raw.closed, 'CONNACK or close');
  const connack = raw.received.find((p) => p.cmd === 'connack') as { returnCode: number } | undefined;
  raw.kill();
  return connack ? connack.returnCode : 'closed';
}

describe('login', () => {
  it('no anonymous MQTT access on a production site: CONNACK 5, logged, counted', async () => {
    expect(await connackOf({ clientId: 'anon-1' })).toBe(5);
    expect(await connackOf({ clientId: 'ac-1', username: 'ac-1' })).toBe(5); // username without password
    await expect(mqtt.connectAsync(gw.mqttUrl, { clientId: 'anon-2', protocolVersion: 4, reconnectPeriod: 0 })).rejects.toThrow(/Not authorized/i);
    expect((await rejected())['mqtt/anonymous']).toBeGreaterThanOrEqual(3);
    expect(logLines().some((l) => l.msg === 'mqtt: anonymous connection refused' && l.clientId === fingerprint('anon-1'))).toBe(true);
  });

  it('a wrong password, an unknown device and another device\'s secret are refused with CONNACK 4', async () => {
    expect(await connackOf({ clientId: 'ac-1', username: 'ac-1', password: 'not-the-secret' })).toBe(4);
    expect(await connackOf({ clientId: 'ac-1', username: 'ac-1', password: TEST_SECRETS['ac-2']! })).toBe(4);
    expect(await connackOf({ clientId: 'ghost-9', username: 'ghost-9', password: 'whatever' })).toBe(4);
    const counts = await rejected();
    expect(counts['mqtt/wrong-secret']).toBeGreaterThanOrEqual(2);
    expect(counts['mqtt/unknown-user']).toBeGreaterThanOrEqual(1);
    const lines = logLines();
    expect(lines.some((l) => l.reason === 'wrong-secret' && l.username === 'ac-1' && /login refused for "ac-1"/.test(l.msg))).toBe(true);
    expect(lines.some((l) => l.reason === 'unknown-user' && l.username === fingerprint('ghost-9') && /login refused for "unknown\(7 chars/.test(l.msg))).toBe(true);
  });

  it('a device whose client id is not its username is refused with CONNACK 2', async () => {
    expect(await connackOf({ clientId: 'ac-2', username: 'ac-1', password: TEST_SECRETS['ac-1']! })).toBe(2);
    expect((await rejected())['mqtt/client-id-mismatch']).toBeGreaterThanOrEqual(1);
    expect(logLines().some((l) => l.msg === 'mqtt: device "ac-1" must use its id as client id' && l.clientId === fingerprint('ac-2'))).toBe(true);
  });

  it('an empty client id with clean session 0 is refused with CONNACK 2 even with good credentials', async () => {
    const raw = await RawMqtt.open(port);
    const secret = Buffer.from(TEST_SECRETS['ac-1']!);
    const user = Buffer.from('ac-1');
    // CONNECT flags 0xC0: username + password, clean session 0, empty client id
    const body = Buffer.concat([Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0xc0, 0, 30, 0, 0, 0, user.length]), user, Buffer.from([0, secret.length]), secret]);
    raw.sendBytes(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    expect((await raw.next('connack')).returnCode).toBe(2);
    await raw.waitClosed();
    expect((await rejected())['mqtt/empty-client-id']).toBeGreaterThanOrEqual(1);
  });
});

describe('access control', () => {
  it('a device cannot publish as another device: the connection is closed, nothing is stored, it is logged and counted', async () => {
    const before = gw.gateway.services.store.events.count();
    const raw = await RawMqtt.connected(port, { clientId: 'ac-1', username: 'ac-1', password: Buffer.from(TEST_SECRETS['ac-1']!) });
    raw.send({ cmd: 'publish', topic: 'devices/ac-2/events', payload: Buffer.from('{"type":"door.forced"}'), qos: 1, messageId: 3, retain: false, dup: false });
    await raw.waitClosed();
    expect(raw.received.filter((p) => p.cmd === 'puback')).toEqual([]);
    for (const topic of ['devices/ac-1/commands', 'local/alerts/critical', 'grid/v1/x']) {
      const again = await RawMqtt.connected(port, { clientId: 'ac-1', username: 'ac-1', password: Buffer.from(TEST_SECRETS['ac-1']!) });
      again.send({ cmd: 'publish', topic, payload: Buffer.from('{}'), qos: 0, retain: false, dup: false });
      await again.waitClosed();
    }
    expect(gw.gateway.services.store.events.count()).toBe(before);
    expect((await rejected())['mqtt/acl-publish']).toBeGreaterThanOrEqual(4);
    expect(logLines().some((l) => /publish refused by ACL/.test(l.msg) && l.clientId === 'ac-1' && l.topic === 'devices/ac-2/events')).toBe(true);
  });

  it("a device cannot subscribe to other devices' topics or to alerts: SUBACK 0x80 for each, logged and counted", async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'cam-1', username: 'cam-1', password: Buffer.from(TEST_SECRETS['cam-1']!) });
    raw.send({
      cmd: 'subscribe',
      messageId: 5,
      subscriptions: ['devices/cam-1/commands', 'devices/ac-1/commands', 'devices/+/events', '#', 'local/alerts/#', '$SYS/#'].map((topic) => ({ topic, qos: 1 as const })),
    });
    expect((await raw.next('suback')).granted).toEqual([1, 128, 128, 128, 128, 128]);
    raw.end();
    expect((await rejected())['mqtt/acl-subscribe']).toBeGreaterThanOrEqual(5);
    expect(logLines().some((l) => /subscribe refused by ACL/.test(l.msg) && l.topic === 'devices/ac-1/commands')).toBe(true);
  });

  it('a guard may read alerts but not publish anything', async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'guard-x', username: 'guard', password: Buffer.from(TEST_SECRETS.guard!) });
    raw.send({ cmd: 'publish', topic: 'local/alerts/critical', payload: Buffer.from('{"fake":true}'), qos: 1, messageId: 1, retain: false, dup: false });
    await raw.waitClosed();
  });
});

describe('broken packets', () => {
  it('an oversized packet is refused from its header, before it is buffered: connection closed, logged, counted', async () => {
    const raw = await RawMqtt.connected(port, { clientId: 'ac-1', username: 'ac-1', password: Buffer.from(TEST_SECRETS['ac-1']!) });
    // PUBLISH announcing 200 MB (remaining length 0xFF 0xFF 0xFF 0x5F), then a trickle of bytes.
    raw.sendBytes(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x5f, 0, 3, 0x61, 0x2f, 0x62]));
    await raw.waitClosed();
    expect((await rejected())['mqtt/oversized-packet']).toBeGreaterThanOrEqual(1);
    expect(logLines().some((l) => l.msg === 'mqtt: connection closed' && /exceeds the limit/.test(String(l.err)))).toBe(true);
  });

  it('a remaining length longer than 4 bytes is refused as malformed, even before CONNECT', async () => {
    const raw = await RawMqtt.open(port);
    raw.sendBytes(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x80, 0x01]));
    await raw.waitClosed();
    expect((await rejected())['mqtt/malformed-packet']).toBeGreaterThanOrEqual(1);
    expect(logLines().some((l) => /malformed MQTT remaining length/.test(String(l.err)))).toBe(true);
  });

  it('garbage instead of CONNECT closes the connection and is counted as a protocol error', async () => {
    const before = (await rejected())['mqtt/protocol-error'] ?? 0;
    const raw = await RawMqtt.open(port);
    raw.sendBytes(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await raw.waitClosed();
    await waitFor(async () => ((await rejected())['mqtt/protocol-error'] ?? 0) > before, 'protocol-error counter');
  });
});

describe('abuse does not reach other devices', () => {
  it('a well-behaved device keeps getting its alerts through while others attack the broker', async () => {
    const probe = new AlertProbe(gw.mqttUrl, 'ac-2');
    await probe.start();
    const alertsBefore = gw.gateway.services.store.alerts.list().length;
    let attacking = true;
    let attacks = 0;
    const attacker = (async () => {
      const secret = Buffer.from(TEST_SECRETS['ac-1']!);
      while (attacking) {
        await connackOf({ clientId: 'anon' });
        await connackOf({ clientId: 'ac-1', username: 'ac-1', password: 'bad' });
        const bad = await RawMqtt.connected(port, { clientId: 'ac-1', username: 'ac-1', password: secret });
        bad.sendBytes(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]));
        await bad.waitClosed();
        const spoof = await RawMqtt.connected(port, { clientId: 'ac-1', username: 'ac-1', password: secret });
        spoof.send({ cmd: 'publish', topic: 'devices/ac-2/events', payload: Buffer.from('{"type":"door.forced"}'), qos: 1, messageId: 1, retain: false, dup: false });
        await spoof.waitClosed();
        const junk = await RawMqtt.open(port);
        junk.sendBytes(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x80]));
        await junk.waitClosed();
        attacks += 5;
      }
    })();
    // Probe until both enough alerts went through and the attacker had time for many rounds.
    while (probe.latenciesMs.length < 15 || attacks < 50) await probe.probe();
    attacking = false;
    await attacker;
    const probes = probe.latenciesMs.length;
    expect(attacks).toBeGreaterThanOrEqual(50);
    expect(gw.gateway.services.store.alerts.list().length).toBeGreaterThanOrEqual(alertsBefore);
    const res = await fetch(`${gw.httpUrl}/healthz`);
    expect(res.status).toBeLessThan(500);
    // The victim device ac-2 never had anything stored that it did not send.
    const spoofed = gw.gateway.services.store.events.query({ deviceId: 'ac-2', limit: 1000 }).length;
    expect(spoofed).toBe(probes);
    await probe.stop();
    console.log(`abuse: ${attacks} attacks while ${probes} alerts went through; alert latency max ${Math.max(...probe.latenciesMs).toFixed(1)} ms`);
  });

  it('connected devices keep working after all of the above', async () => {
    const device = await connectDevice(gw.mqttUrl, 'smoke-1');
    await device.publishAsync('devices/smoke-1/events', JSON.stringify({ type: 'sensor.smoke' }), { qos: 1 });
    await waitFor(() => gw.gateway.services.store.alerts.list().find((a) => a.deviceId === 'smoke-1'), 'smoke alert');
    await device.endAsync();
  });
});
