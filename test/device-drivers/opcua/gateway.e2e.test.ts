import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startGateway, testSite, type TestGateway } from '../../helpers/gateway.ts';
import { waitFor as waitWithin } from '../../helpers/net.ts';
import { OpcuaFixture } from './fixture.ts';

const NS = 'ns=1;s=';
/** Generous deadlines: the machine is shared; none of these is a timing assertion. */
const waitFor = <T>(check: () => T | Promise<T>, what: string, ms = 30_000) => waitWithin(check, what, ms);

describe('end to end: OPC-UA fire panel and perimeter host → gateway store → alarm rule → alert', () => {
  const fixture = new OpcuaFixture();
  let gw: TestGateway;

  beforeAll(async () => {
    await fixture.start();
    const site = await testSite({
      opcuaServers: [
        {
          id: 'alarm-host',
          endpoint: fixture.endpoint,
          acceptUnknownServerCertificate: true,
          publishingIntervalMs: 50,
          samplingIntervalMs: 0,
          reconnectMinMs: 100,
          reconnectMaxMs: 1_000,
        },
      ],
      rules: [
        { id: 'alarm', type: 'alarm', params: { types: ['sensor.fire', 'sensor.smoke'] } },
        { id: 'device-offline', type: 'device-offline' },
      ],
    });
    site.devices = [
      ...(site.devices as unknown[]),
      {
        id: 'fire-panel-1',
        name: '消防主机',
        kind: 'sensor',
        transport: 'opcua',
        location: { building: 'b1' },
        opcua: { server: 'alarm-host', nodes: [{ nodeId: `${NS}FirePanel.Alarm`, normal: false, events: [{ value: true, type: 'sensor.fire' }, { value: false, type: 'sensor.restored' }] }] },
      },
      {
        id: 'perimeter-1',
        kind: 'sensor',
        transport: 'opcua',
        location: { zone: 'z-north' },
        opcua: {
          server: 'alarm-host',
          nodes: [{ nodeId: `${NS}Perimeter.Zone1.Alarm`, normal: false, events: [{ value: true, type: 'intrusion.detected' }] }],
          commands: [{ command: 'alarm.on', nodeId: `${NS}Relay.Siren`, value: true }],
        },
      },
    ];
    gw = await startGateway(site);
    await waitFor(async () => ((await gw.gateway.status()).links as Record<string, { connected: boolean }>)['alarm-host']?.connected, 'gateway connected to the OPC-UA server', 60_000);
  }, 180_000);

  afterAll(async () => {
    await gw?.stop();
    await fixture.stop();
  });

  it('a fire alarm on the panel becomes a stored event with the three codes and a critical alert', async () => {
    const { store, monitor } = gw.gateway.services;
    await waitFor(() => monitor.get('fire-panel-1')?.online, 'fire panel online');
    await fixture.set('FirePanel.Alarm', true);

    const alert = await waitFor(() => store.alerts.list().find((a) => a.ruleId === 'alarm' && a.deviceId === 'fire-panel-1'), 'fire alert');
    expect(alert).toMatchObject({ severity: 'critical', category: 'property', status: 'new' });
    expect(alert.message).toMatch(/1号楼.*火警/);
    const event = store.events.get(alert.evidence[0]!);
    expect(event).toMatchObject({ deviceId: 'fire-panel-1', type: 'sensor.fire', payload: { server: 'alarm-host', nodeId: `${NS}FirePanel.Alarm`, value: true } });
    expect(event!.codes).toEqual({ addressCode: expect.any(String), communityGridCode: 'CG350102001', policeGridCode: 'PG350102600102' });
  });

  it('a perimeter alarm is stored in its zone, commands reach the server, and the PKI sits under the data dir', async () => {
    const { store, drivers } = gw.gateway.services;
    await fixture.set('Perimeter.Zone1.Alarm', true);
    const intrusion = await waitFor(() => store.events.query({ deviceId: 'perimeter-1' }).find((e) => e.type === 'intrusion.detected'), 'intrusion event');
    expect(intrusion.place.zone).toBe('z-north');

    const driver = drivers.find((d) => d.handles('perimeter-1'))!;
    expect(driver.transport).toBe('opcua');
    expect(await driver.sendCommand('perimeter-1', { id: 'e2e-1', type: 'alarm.on' })).toMatchObject({ ok: true });
    expect(await fixture.get('Relay.Siren')).toBe(true);

    const status = await gw.gateway.status();
    expect((status.links as Record<string, unknown>)['alarm-host']).toMatchObject({ connected: true, reconnects: 0, detail: expect.stringContaining('monitoring 2 of 2 nodes') });
    expect(existsSync(join(gw.dataDir, 'pki', 'alarm-host', 'own', 'certs'))).toBe(true);
  });
});
