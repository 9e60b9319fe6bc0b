import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { connectDevice, publishEvent, startGateway, testSite, TEST_SECRETS, type TestGateway } from '../helpers/gateway.ts';
import { loginAs } from '../helpers/login.ts';
import { waitFor } from '../helpers/net.ts';
import { SseClient } from '../helpers/sse.ts';
import { requireTool } from '../helpers/tools.ts';

const haveMosquitto = requireTool('mosquitto', 'mosquitto');

describe.skipIf(!haveMosquitto)('end to end: device → store → rules → local alert, SSE and platform', () => {
  const platform = new Mosquitto();
  let gw: TestGateway;
  let platformClient: mqtt.MqttClient;
  const platformMessages: { topic: string; body: any }[] = [];

  beforeAll(async () => {
    await platform.start();
    platformClient = await mqtt.connectAsync(platform.url, { clientId: 'platform-test', protocolVersion: 5 });
    platformClient.on('message', (topic, payload) => platformMessages.push({ topic, body: JSON.parse(payload.toString()) }));
    await platformClient.subscribeAsync('grid/v1/#', { qos: 1 });
    gw = await startGateway(await testSite({ platform: { url: platform.url, reconnectMinMs: 100, reconnectMaxMs: 1000 } }));
  });

  afterAll(async () => {
    await gw?.stop();
    await platformClient?.endAsync();
    await platform.stop();
  });

  it('a door.forced from a device becomes an alert on local/alerts, over SSE and on the platform with the three codes', async () => {
    const guard = await mqtt.connectAsync(gw.mqttUrl, { clientId: 'guard-room', username: 'guard', password: TEST_SECRETS.guard!, protocolVersion: 4 });
    const local: any[] = [];
    guard.on('message', (_t, p) => local.push(JSON.parse(p.toString())));
    await guard.subscribeAsync('local/alerts/#', { qos: 1 });
    const guardUser = await loginAs(gw, 'guard');
    const sse = new SseClient(`${gw.httpUrl}/api/alerts/stream`, guardUser.headers);
    await sse.open();

    const device = await connectDevice(gw.mqttUrl, 'ac-1');
    await publishEvent(device, 'ac-1', { type: 'door.forced', ts: '2026-11-01T10:00:00+08:00' });

    const localAlert = await waitFor(() => local.find((m) => m.alert.ruleId === 'door-forced'), 'local alert');
    expect(localAlert.change).toBe('raised');
    expect(localAlert.alert.severity).toBe('high');
    expect(localAlert.alert.codes).toEqual({ addressCode: 'AC3501020001', communityGridCode: 'CG350102001', policeGridCode: 'PG350102600102' });
    expect(localAlert.alert.message).toContain('1号门');

    const sseAlert = await waitFor(() => sse.events.find((e) => JSON.parse(e.data).alert.id === localAlert.alert.id), 'SSE alert');
    expect(Number(sseAlert.id)).toBeGreaterThan(0);

    const root = 'grid/v1/CG350102001/gw-test-1';
    const uplinkAlert = await waitFor(
      () => platformMessages.find((m) => m.topic === `${root}/alerts` && m.body.items.some((i: any) => i.id === localAlert.alert.id)),
      'alert on the platform',
    );
    expect(uplinkAlert.body).toMatchObject({ v: 1, gatewayId: 'gw-test-1', kind: 'alert' });
    const item = uplinkAlert.body.items.find((i: any) => i.id === localAlert.alert.id);
    expect(item.codes.policeGridCode).toBe('PG350102600102');
    const eventId = localAlert.alert.evidence[0];
    await waitFor(() => platformMessages.find((m) => m.topic === `${root}/events` && m.body.items.some((i: any) => i.id === eventId)), 'event on the platform');
    expect(platformMessages.find((m) => m.topic === `${root}/status`)?.body.state).toBe('online');

    await waitFor(() => gw.gateway.services.store.outbox.count() === 0, 'outbox to empty');
    const stored = gw.gateway.services.store.events.get(eventId);
    expect(stored?.type).toBe('door.forced');
    expect(stored?.deviceTime).toBe('2026-11-01T02:00:00.000Z');

    sse.close();
    await device.endAsync();
    await guard.endAsync();
  });

  it('a watchlisted card raises a critical police alert with a zh-CN explanation', async () => {
    const device = await connectDevice(gw.mqttUrl, 'ac-2');
    await publishEvent(device, 'ac-2', { type: 'access.denied', cardNo: '6666' });
    const alert = await waitFor(
      () => gw.gateway.services.store.alerts.list().find((a) => a.ruleId === 'watchlist-hit' && a.deviceId === 'ac-2'),
      'watchlist alert',
    );
    expect(alert).toMatchObject({ severity: 'critical', category: 'police', status: 'new' });
    expect(alert.message).toMatch(/在逃.*1号楼1单元/);
    await device.endAsync();
  });
});
