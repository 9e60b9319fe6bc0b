import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, publishEvent, startGateway, testSite, type TestGateway } from '../helpers/gateway.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/net.ts';
import { requireTool } from '../helpers/tools.ts';
import { command, platformKeys, PlatformPeer, ROOT } from './platform.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');

describe.skipIf(!haveMosquitto)('MQTT 3.1.1 fallback (protocolVersion 4)', () => {
  const broker = new Mosquitto();
  const keys = platformKeys();
  let site: Record<string, unknown>;
  let gw: TestGateway;
  let platform: PlatformPeer;

  beforeAll(async () => {
    await broker.start();
    platform = await new PlatformPeer(broker.url).connect();
    site = await testSite({ platform: { url: broker.url, protocolVersion: 4, reconnectMinMs: 100, reconnectMaxMs: 500, commandPublicKey: keys.publicKeyFile, heartbeatSeconds: 0 } });
    gw = await startGateway(site);
    await waitFor(() => gw.gateway.services.uplink!.state.commands?.subscribed, 'subscribed to cmd');
  });

  afterAll(async () => {
    await gw?.stop();
    await platform?.close();
    await broker.stop();
  });

  it('sends events and keeps a persistent session: a command sent while offline arrives after the restart', async () => {
    const device = await connectDevice(gw.mqttUrl, 'ac-1');
    await publishEvent(device, 'ac-1', { type: 'access.granted', cardNo: '1001' });
    await waitFor(() => platform.itemIds('events').length === 1, 'the event on the platform');
    await device.endAsync();
    expect(gw.gateway.services.uplink!.state.protocolVersion).toBe(4);

    await gw.stop();
    await platform.client.publishAsync(`${ROOT}/cmd`, JSON.stringify(command(keys, 'v4-offline-ping', 'ping', {})), { qos: 1 });
    gw = await startGateway(site);
    const result = await waitFor(() => platform.result('v4-offline-ping'), 'the offline command answered');
    expect(result.status).toBe('ok');
  });
});
