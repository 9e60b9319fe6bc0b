import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, publishEvent, startGateway, testSite, type TestGateway } from '../helpers/gateway.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/net.ts';
import { requireTool } from '../helpers/tools.ts';
import { makePki, PlatformPeer, ROOT } from './platform.ts';

const haveTools = requireTool('mosquitto', 'mosquitto') && requireTool('openssl', 'openssl');

describe.skipIf(!haveTools)('mutual TLS to the platform, certificates made with openssl at test time', () => {
  let pki: ReturnType<typeof makePki>;
  let rogue: ReturnType<typeof makePki>;
  let broker: Mosquitto;
  let rogueBroker: Mosquitto;
  let platform: PlatformPeer;
  const gateways: TestGateway[] = [];

  const tlsLines = (ca: string, server: { cert: string; key: string }) => [
    `cafile ${ca}`,
    `certfile ${server.cert}`,
    `keyfile ${server.key}`,
    'require_certificate true',
    'use_identity_as_username true',
  ];

  const gateway = async (url: string, tls: Record<string, string>) => {
    const gw = await startGateway(await testSite({ platform: { url, tls, reconnectMinMs: 100, reconnectMaxMs: 400, heartbeatSeconds: 0 } }));
    gateways.push(gw);
    return gw;
  };

  /** The uplink tried several times and never got a CONNACK. */
  const neverConnects = async (gw: TestGateway) => {
    const uplink = gw.gateway.services.uplink!;
    await waitFor(() => uplink.state.reconnects >= 3, 'three failed attempts', 20_000);
    expect(uplink.state.connects).toBe(0);
    expect(uplink.state.connected).toBe(false);
    return uplink.state.lastError ?? '';
  };

  beforeAll(async () => {
    pki = makePki('platform');
    rogue = makePki('rogue');
    broker = new Mosquitto({ listenerLines: tlsLines(pki.ca, pki.server()) });
    await broker.start();
    // Trusts the gateway's CA for client certificates but presents a server cert of another CA.
    rogueBroker = new Mosquitto({ listenerLines: tlsLines(pki.ca, rogue.server()) });
    await rogueBroker.start();
    const peer = pki.client('platform-peer');
    platform = await new PlatformPeer(`mqtts://127.0.0.1:${broker.port}`, { ca: [pki.ca].map((f) => readPem(f)), cert: readPem(peer.cert), key: readPem(peer.key) }).connect();
  });

  afterAll(async () => {
    for (const gw of gateways) await gw.stop();
    await platform?.close();
    await broker?.stop();
    await rogueBroker?.stop();
  });

  it('connects with the client certificate of the pinned CA and delivers events', async () => {
    const client = pki.client('gw-test-1');
    const gw = await gateway(`mqtts://127.0.0.1:${broker.port}`, { ca: pki.ca, cert: client.cert, key: client.key });
    await waitFor(() => gw.gateway.services.uplink!.state.connected, 'uplink connected over mutual TLS');
    const device = await connectDevice(gw.mqttUrl, 'ac-1');
    await publishEvent(device, 'ac-1', { type: 'access.granted', cardNo: '1001' });
    const envelope = await waitFor(() => platform.messages.find((m) => m.topic === `${ROOT}/events`), 'event over TLS');
    expect(envelope.body.items[0].identity.personId).toBe('p1');
    await device.endAsync();
    await gw.stop();
  });

  it('cannot connect without a client certificate', async () => {
    const gw = await gateway(`mqtts://127.0.0.1:${broker.port}`, { ca: pki.ca });
    expect(await neverConnects(gw)).toMatch(/certificate required/);
  });

  it('cannot connect with a client certificate from another CA', async () => {
    const client = rogue.client('gw-test-1');
    const gw = await gateway(`mqtts://127.0.0.1:${broker.port}`, { ca: pki.ca, cert: client.cert, key: client.key });
    expect(await neverConnects(gw)).toMatch(/unknown ca/);
  });

  it('refuses a platform whose server certificate is not signed by the pinned CA', async () => {
    const client = pki.client('gw-test-1');
    const gw = await gateway(`mqtts://127.0.0.1:${rogueBroker.port}`, { ca: pki.ca, cert: client.cert, key: client.key });
    expect(await neverConnects(gw)).toMatch(/unable to verify the first certificate/);
  });
});

function readPem(file: string): Buffer {
  return readFileSync(file);
}
