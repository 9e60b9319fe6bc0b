import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePki } from '../../helpers/certs.ts';
import { startGateway, testSite, TEST_SECRETS, type TestGateway } from '../../helpers/gateway.ts';
import { waitFor } from '../../helpers/net.ts';
import { requireTool } from '../../helpers/tools.ts';

const haveOpenssl = requireTool('openssl', 'openssl');

describe.skipIf(!haveOpenssl)('embedded broker over TLS', () => {
  let gw: TestGateway;
  let pki: ReturnType<typeof makePki>;

  beforeAll(async () => {
    pki = makePki();
    const server = pki.issue('broker', { server: true, cn: 'localhost' });
    const site = await testSite();
    (site.broker as Record<string, unknown>).tls = { cert: server.cert, key: server.key, port: 0 };
    gw = await startGateway(site);
  });
  afterAll(async () => gw?.stop());

  it('a device that trusts the gateway CA connects over TLS and its events are stored', async () => {
    const port = gw.gateway.services.broker.tlsPort;
    expect(port).toBeGreaterThan(0);
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
      clientId: 'ac-1',
      username: 'ac-1',
      password: TEST_SECRETS['ac-1']!,
      protocolVersion: 4,
      ca: readFileSync(pki.ca),
      reconnectPeriod: 0,
    });
    await client.publishAsync('devices/ac-1/events', JSON.stringify({ type: 'door.opened' }), { qos: 1 });
    await waitFor(() => gw.gateway.services.store.events.query({ deviceId: 'ac-1', type: 'door.opened' }).length === 1, 'event stored');
    await client.endAsync();
  });

  it('a client that pins another CA refuses the gateway', async () => {
    const other = makePki('other-ca');
    const port = gw.gateway.services.broker.tlsPort;
    await expect(
      mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, { clientId: 'ac-1', username: 'ac-1', password: TEST_SECRETS['ac-1']!, protocolVersion: 4, ca: readFileSync(other.ca), reconnectPeriod: 0, connectTimeout: 3000 }),
    ).rejects.toThrow(/self.signed|unable to verify|certificate/i);
  });
});
