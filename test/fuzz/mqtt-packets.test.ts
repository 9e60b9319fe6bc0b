/**
 * Fuzzing the embedded broker with malformed MQTT (fast-check), short version for CI; the long
 * version is test/fuzz/mqtt-packets.faults.ts. No crash (a thrown error would fail the run), every
 * connection ends, a well-behaved device keeps working, and memory is reported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testSite, type TestGateway } from '../helpers/gateway.ts';
import { RawMqtt } from '../conformance/raw-client.ts';
import { TEST_SECRETS } from '../helpers/gateway.ts';
import { fuzzMqtt } from './mqtt-fuzz.ts';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway(await testSite());
});
afterAll(async () => {
  await gw?.stop();
});

describe('malformed MQTT against the embedded broker', () => {
  it('[MQTT-1.5.3-1] [MQTT-1.5.3-2] ill-formed UTF-8 or U+0000 in a topic closes the connection, counted', async () => {
    for (const bad of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0x00]]) {
      const raw = await RawMqtt.connected(gw.gateway.ports.mqtt, { clientId: 'ac-1', username: 'ac-1', password: Buffer.from(TEST_SECRETS['ac-1']!) });
      const topic = Buffer.concat([Buffer.from('devices/ac-1/'), Buffer.from(bad)]);
      const body = Buffer.concat([Buffer.from([0, topic.length]), topic, Buffer.from([0, 1]), Buffer.from('{}')]);
      raw.sendBytes(Buffer.concat([Buffer.from([0x32, body.length]), body])); // PUBLISH QoS 1, id 1
      await raw.waitClosed();
      expect(raw.received.filter((p) => p.cmd === 'puback')).toEqual([]);
    }
    expect(((await gw.gateway.status()).rejected as Record<string, number>)['mqtt/bad-utf8-topic']).toBe(4);
  });

  it('survives random bytes, truncated packets, huge lengths, bad UTF-8 and invalid flags', async () => {
    const report = await fuzzMqtt(gw, Number(process.env.GRIDGUARD_FUZZ_RUNS ?? 300), 50);
    console.log('mqtt fuzz (CI):', JSON.stringify(report));
    expect(report.runs).toBeGreaterThanOrEqual(300);
    expect(Object.keys(report.byKind).length).toBeGreaterThanOrEqual(6);
    expect(report.healthChecks).toBeGreaterThanOrEqual(6);
  });
});
