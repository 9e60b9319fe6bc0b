import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, publishEvent, startGateway, testSite, TEST_SECRETS, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/net.ts';

/**
 * Every bad input gets a clear error naming where it came from, a counter, and no effect on
 * other devices: a well-behaved device keeps raising alerts through all of it.
 */
describe('bad input from devices', () => {
  let gw: TestGateway;
  let good: mqtt.MqttClient;
  let forced = 0;

  const rejected = async () => gw.gateway.metrics.rejectedSummary();
  const logLines = () => readFileSync(gw.logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; level: number });

  /** The well-behaved device raises an alert; it must keep working after each abuse. */
  async function goodDeviceStillWorks() {
    forced++;
    const before = gw.gateway.services.store.events.query({ deviceId: 'ac-2', type: 'door.forced' }).length;
    await publishEvent(good, 'ac-2', { type: 'door.forced' });
    await waitFor(() => gw.gateway.services.store.events.query({ deviceId: 'ac-2', type: 'door.forced' }).length === before + 1, 'good device event');
  }

  beforeAll(async () => {
    gw = await startGateway(await testSite());
    good = await connectDevice(gw.mqttUrl, 'ac-2');
  });

  afterAll(async () => {
    await good?.endAsync();
    await gw?.stop();
  });

  it('malformed JSON: acknowledged, counted, logged with device and topic', async () => {
    const dev = await connectDevice(gw.mqttUrl, 'ac-1');
    await dev.publishAsync('devices/ac-1/events', '{"type": "door.forced",', { qos: 1 });
    await waitFor(async () => (await rejected())['mqtt/malformed-json'] === 1, 'counter');
    expect(logLines().some((l) => l.msg.startsWith('mqtt devices/ac-1/events: malformed JSON'))).toBe(true);
    expect(dev.connected).toBe(true);
    await dev.endAsync();
    await goodDeviceStillWorks();
  });

  it('valid JSON of the wrong shape, or an event type the device kind cannot report', async () => {
    const dev = await connectDevice(gw.mqttUrl, 'smoke-1');
    await dev.publishAsync('devices/smoke-1/events', JSON.stringify({ type: 'teleport' }), { qos: 1 });
    await dev.publishAsync('devices/smoke-1/events', JSON.stringify({ type: 'plate.captured', plate: '闽A12345' }), { qos: 1 });
    await waitFor(async () => (await rejected())['mqtt/invalid-payload'] === 1 && (await rejected())['mqtt/type-not-allowed'] === 1, 'counters');
    expect(logLines().some((l) => l.msg === 'mqtt devices/smoke-1/events: a sensor cannot report plate.captured')).toBe(true);
    await dev.endAsync();
    await goodDeviceStillWorks();
  });

  it('unknown device and wrong password are refused at CONNACK, counted and logged', async () => {
    await expect(connectDevice(gw.mqttUrl, 'ghost-9', 'whatever')).rejects.toThrow(/Bad username or password|Not authorized/i);
    await expect(connectDevice(gw.mqttUrl, 'ac-1', 'wrong-secret')).rejects.toThrow(/Bad username or password|Not authorized/i);
    await expect(mqtt.connectAsync(gw.mqttUrl, { clientId: 'anon', protocolVersion: 4, reconnectPeriod: 0 })).rejects.toThrow(/Not authorized/i);
    const counts = await rejected();
    expect(counts['mqtt/unknown-user']).toBe(1);
    expect(counts['mqtt/wrong-secret']).toBe(1);
    expect(counts['mqtt/anonymous']).toBe(1);
    // An unknown username is logged only as a fingerprint (it may be a secret typed in the wrong field).
    expect(logLines().some((l) => l.msg.includes(': unknown device or user') && !l.msg.includes('ghost-9'))).toBe(true);
    expect(logLines().some((l) => l.msg.includes('login refused for "ac-1": wrong secret'))).toBe(true);
    await goodDeviceStillWorks();
  });

  it('a device cannot log in under another id, publish as another device, or subscribe to others', async () => {
    await expect(connectDevice(gw.mqttUrl, 'ac-1', TEST_SECRETS['ac-1'], { clientId: 'ac-2-impostor' })).rejects.toThrow(/Identifier rejected/i);
    const dev = await connectDevice(gw.mqttUrl, 'ac-1');
    // SUBACK 0x80: mqtt.js turns the refusal into an error.
    await expect(dev.subscribeAsync('devices/ac-2/commands', { qos: 1 })).rejects.toThrow(/Subscribe error/);
    const closed = new Promise<void>((resolve) => dev.once('close', () => resolve()));
    dev.publish('devices/ac-2/events', JSON.stringify({ type: 'door.forced' }), { qos: 1 });
    await closed; // an ACL violation on publish closes the offender's connection
    const counts = await rejected();
    expect(counts['mqtt/client-id-mismatch']).toBe(1);
    expect(counts['mqtt/acl-subscribe']).toBe(1);
    expect(counts['mqtt/acl-publish']).toBe(1);
    expect(gw.gateway.services.store.events.query({ deviceId: 'ac-2', type: 'door.forced' }).length).toBe(forced);
    dev.end(true);
    await goodDeviceStillWorks();
  });

  it('oversized payloads: a JSON event over 64 KiB and a packet over the broker limit', async () => {
    const dev = await connectDevice(gw.mqttUrl, 'ac-1');
    await dev.publishAsync('devices/ac-1/events', JSON.stringify({ type: 'door.forced', pad: 'x'.repeat(70_000) }), { qos: 1 });
    await waitFor(async () => (await rejected())['mqtt/oversized-payload'] === 1, 'oversized JSON counted');
    await dev.endAsync();

    // A raw client announcing a 3 MB packet (limit 2 MiB) is cut off before it is buffered.
    const socket = createConnection(gw.gateway.ports.mqtt, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const closed = new Promise((r) => socket.once('close', r));
    socket.write(Buffer.from([0x30, 0x80, 0x8d, 0xb7, 0x01])); // PUBLISH, remaining length 3,000,000
    await closed;
    await waitFor(async () => (await rejected())['mqtt/oversized-packet'] === 1, 'oversized packet counted');
    await goodDeviceStillWorks();
  });

  it('an unknown device topic is refused and counted', async () => {
    const dev = await connectDevice(gw.mqttUrl, 'dp-1');
    await dev.publishAsync('devices/dp-1/firmware-blob', 'x', { qos: 1 });
    await waitFor(async () => (await rejected())['mqtt/unknown-topic'] === 1, 'unknown topic counted');
    await dev.endAsync();
    await goodDeviceStillWorks();
  });
});
