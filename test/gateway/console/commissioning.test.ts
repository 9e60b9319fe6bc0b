import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_SECRET_COST, hashSecret } from '../../../gateway/core/secrets.ts';
import { connectDevice, startGateway, testSite, type TestGateway } from '../../helpers/gateway.ts';
import { loginAs, type LoggedIn } from '../../helpers/login.ts';
import { freePort } from '../../helpers/net.ts';

const SIREN_SECRET = 'secret-siren-1-Qa3zL7';

/** The test site plus an MQTT siren, a Modbus door on an RS-485 bus and an OPC-UA perimeter sensor. */
async function commissioningSite(): Promise<Record<string, unknown>> {
  const base = await testSite();
  const noPort = join(mkdtempSync(join(tmpdir(), 'gg-cm-')), 'ttyUSB-absent');
  return {
    ...base,
    // A fixed port: the settings must name the port the devices really connect to.
    broker: { ...(base.broker as object), port: await freePort() },
    devices: [
      ...(base.devices as unknown[]),
      { id: 'siren-1', kind: 'alarm-output', transport: 'mqtt', location: { gate: 'gate-1' }, secretHash: await hashSecret(SIREN_SECRET, DEVICE_SECRET_COST) },
      { id: 'door-b1', name: '1号楼门禁', kind: 'access-controller', transport: 'serial', location: { building: 'b1', unit: 'u1' }, serial: { bus: 'rs485-1', protocol: 'modbus-rtu', address: 3, outputs: { doorStrike: { coil: 0 } } } },
      {
        id: 'fence-1',
        kind: 'sensor',
        transport: 'opcua',
        location: { zone: 'z-north' },
        opcua: { server: 'perimeter', nodes: [{ nodeId: 'ns=1;s=Zone1.Alarm', name: '北围墙1防区', events: [{ value: true, type: 'intrusion.detected' }] }] },
      },
    ],
    serialBuses: [{ id: 'rs485-1', path: noPort, baudRate: 19200, parity: 'even' }],
    opcuaServers: [{ id: 'perimeter', endpoint: `opc.tcp://127.0.0.1:${await freePort()}/UA/absent` }],
  };
}

/** A device that carries out commands: replies on commands/result with what it did. */
async function answeringDevice(url: string, id: string, password?: string, answer: (cmd: any) => Record<string, unknown> = (cmd) => ({ id: cmd.id, ok: true, data: { did: cmd.type } })) {
  const client = await connectDevice(url, id, password);
  const received: { cmd: any; at: number }[] = [];
  client.on('message', (topic, payload) => {
    if (topic !== `devices/${id}/commands`) return;
    const cmd = JSON.parse(payload.toString());
    received.push({ cmd, at: Date.now() });
    void client.publishAsync(`devices/${id}/commands/result`, JSON.stringify(answer(cmd)), { qos: 1 });
  });
  await client.subscribeAsync(`devices/${id}/commands`, { qos: 1 });
  await client.publishAsync(`devices/${id}/availability`, 'online', { qos: 1 });
  return { client, received };
}

describe('commissioning API: per-device settings and the test command', () => {
  let gw: TestGateway;
  let site: Record<string, unknown>;
  let installer: LoggedIn;
  let guard: LoggedIn;
  let admin: LoggedIn;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    site = await commissioningSite();
    gw = await startGateway(site);
    installer = await loginAs(gw, 'installer');
    guard = await loginAs(gw, 'guard');
    admin = await loginAs(gw, 'admin');
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) await c.endAsync().catch(() => {});
    await gw?.stop();
  });

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${gw.httpUrl}${path}`, { headers });
  const post = (path: string, headers: Record<string, string> = {}) => fetch(`${gw.httpUrl}${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{}' });

  it('installers and admins may read it and run tests; guards are refused (403); no session is 401', async () => {
    expect((await get('/api/commissioning', installer.headers)).status).toBe(200);
    expect((await get('/api/commissioning', admin.headers)).status).toBe(200);
    expect((await get('/api/commissioning', guard.headers)).status).toBe(403);
    expect((await get('/api/commissioning')).status).toBe(401);
    expect((await get('/api/commissioning', { cookie: 'gg_session=forged' })).status).toBe(401);
    expect((await post('/api/commissioning/ac-1/test', guard.headers)).status).toBe(403);
    expect((await post('/api/commissioning/ac-1/test')).status).toBe(401);
  });

  it('the CLI reads the same settings and runs tests with the local API token', async () => {
    const bearer = { authorization: `Bearer ${readFileSync(join(gw.dataDir, 'api-token'), 'utf8').trim()}` };
    expect((await get('/api/commissioning', bearer)).status).toBe(200);
    // The test forwards the caller's credentials to the command route: the token must pass there too.
    const dev = await answeringDevice(gw.mqttUrl, 'smoke-1');
    clients.push(dev.client);
    const body = (await (await post('/api/commissioning/smoke-1/test', bearer)).json()) as any;
    expect(body.steps).toEqual([expect.objectContaining({ type: 'ping', status: 200, result: expect.objectContaining({ ok: true }) })]);
    expect(dev.received.map((r) => r.cmd.type)).toEqual(['ping']);
  });

  it('names what an MQTT device must be set to: broker, client id = user name = device id, its topics', async () => {
    const body = (await (await get('/api/commissioning', installer.headers)).json()) as any;
    const gate1 = body.groups.find((g: any) => g.type === 'gate' && g.id === 'gate-1');
    expect(gate1.name).toBe('1号门');
    const ac1 = gate1.devices.find((d: any) => d.id === 'ac-1');
    expect(ac1.linkId).toBe('ac-1');
    expect(ac1.settings).toEqual({
      transport: 'mqtt',
      host: '127.0.0.1',
      port: gw.gateway.ports.mqtt,
      tlsPort: null,
      clientId: 'ac-1',
      username: 'ac-1',
      secret: 'provisioned',
      protocolVersion: '3.1.1',
      topics: { events: 'devices/ac-1/events', heartbeat: 'devices/ac-1/heartbeat', availability: 'devices/ac-1/availability', commands: 'devices/ac-1/commands', commandResult: 'devices/ac-1/commands/result' },
      lastWill: { topic: 'devices/ac-1/availability', payload: 'offline', qos: 1 },
      heartbeatSeconds: 60,
    });
    expect(ac1.test.steps).toEqual([{ type: 'door.open', params: { ms: 500 } }]);
    expect(gate1.devices.find((d: any) => d.id === 'siren-1').test).toMatchObject({ steps: [{ type: 'alarm.on' }, { type: 'alarm.off' }], holdMs: 1000 });
    const all = body.groups.flatMap((g: any) => g.devices);
    expect(all.find((d: any) => d.id === 'smoke-1').test.steps).toEqual([{ type: 'ping' }]);
    // No secret and no hash leaves the gateway through this page.
    expect(JSON.stringify(body)).not.toMatch(/scrypt\$/);
  });

  it('names what a serial device must be set to: bus path, baud and frame, protocol and address', async () => {
    const body = (await (await get('/api/commissioning', installer.headers)).json()) as any;
    const b1 = body.groups.find((g: any) => g.type === 'building' && g.id === 'b1');
    const door = b1.devices.find((d: any) => d.id === 'door-b1');
    const bus = (site.serialBuses as any[])[0];
    expect(door).toMatchObject({ name: '1号楼门禁', kind: 'access-controller', transport: 'serial', place: '1号楼1单元', linkId: 'serial:rs485-1' });
    expect(door.settings).toEqual({ transport: 'serial', bus: 'rs485-1', path: bus.path, baudRate: 19200, frame: '8E1', protocol: 'modbus-rtu', address: 3, pollIntervalMs: 500, outputs: { doorStrikeCoil: 0 }, points: 0 });
    expect(door.test.steps).toEqual([{ type: 'door.open', params: { ms: 500 } }]);
    // Devices at no gate and in no building are listed too, last.
    const other = body.groups.at(-1);
    expect(other.type).toBe('other');
    const fence = other.devices.find((d: any) => d.id === 'fence-1');
    expect(fence.settings).toMatchObject({ transport: 'opcua', server: 'perimeter', endpoint: (site.opcuaServers as any[])[0].endpoint, nodes: [{ nodeId: 'ns=1;s=Zone1.Alarm', name: '北围墙1防区' }], commands: [] });
    expect(fence.test).toBeNull();
    expect(body.groups.flatMap((g: any) => g.devices.map((d: any) => d.id)).sort()).toEqual(['ac-1', 'ac-2', 'cam-1', 'door-b1', 'dp-1', 'fence-1', 'siren-1', 'smoke-1']);
  });

  it('GET /api/devices maps serial and OPC-UA devices to the health of their bus and server', async () => {
    const { devices } = (await (await get('/api/devices', installer.headers)).json()) as any;
    const door = devices.find((d: any) => d.id === 'door-b1');
    const fence = devices.find((d: any) => d.id === 'fence-1');
    expect(door.link).toMatchObject({ connected: false, framesOk: 0 });
    expect(fence.link).toMatchObject({ connected: false });
    expect(devices.find((d: any) => d.id === 'ac-1').link).toMatchObject({ framesBad: 0 });
  });

  it('the test pulses an access controller\'s door relay and returns the device\'s reply', async () => {
    const dev = await answeringDevice(gw.mqttUrl, 'ac-1');
    clients.push(dev.client);
    const res = await post('/api/commissioning/ac-1/test', installer.headers);
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.ok).toBe(true);
    expect(body.steps).toHaveLength(1);
    expect(body.steps[0]).toMatchObject({ type: 'door.open', params: { ms: 500 }, status: 200, result: { ok: true, data: { did: 'door.open' } } });
    expect(dev.received.map((r) => r.cmd)).toEqual([expect.objectContaining({ type: 'door.open', params: { ms: 500 }, id: body.steps[0].result.id })]);
  });

  it('the siren test switches it on, holds about a second, and switches it off', async () => {
    const dev = await answeringDevice(gw.mqttUrl, 'siren-1', SIREN_SECRET);
    clients.push(dev.client);
    const body = (await (await post('/api/commissioning/siren-1/test', admin.headers)).json()) as any;
    expect(body.ok).toBe(true);
    expect(body.steps.map((s: any) => [s.type, s.result.ok])).toEqual([['alarm.on', true], ['alarm.off', true]]);
    expect(dev.received.map((r) => r.cmd.type)).toEqual(['alarm.on', 'alarm.off']);
    // A lower bound only: the hold is a timer, and timers do not fire early.
    expect(dev.received[1]!.at - dev.received[0]!.at).toBeGreaterThanOrEqual(900);
    await dev.client.endAsync();
  });

  it('switches the siren off even when the device refused to switch it on, and reports the refusal', async () => {
    const dev = await answeringDevice(gw.mqttUrl, 'siren-1', SIREN_SECRET, (cmd) => (cmd.type === 'alarm.on' ? { id: cmd.id, ok: false, error: 'siren output shorted' } : { id: cmd.id, ok: true }));
    clients.push(dev.client);
    const body = (await (await post('/api/commissioning/siren-1/test', installer.headers)).json()) as any;
    expect(body.ok).toBe(false);
    expect(body.steps[0]).toMatchObject({ type: 'alarm.on', status: 502, result: { ok: false, error: 'siren output shorted' } });
    expect(body.steps[1]).toMatchObject({ type: 'alarm.off', status: 200, result: { ok: true } });
    expect(dev.received.map((r) => r.cmd.type)).toEqual(['alarm.on', 'alarm.off']);
  });

  it('a device that does not answer shows as a timeout', async () => {
    // ac-2 is configured but nobody is connected as it: the command is published and never answered.
    const body = (await (await post('/api/commissioning/ac-2/test', installer.headers)).json()) as any;
    expect(body.ok).toBe(false);
    expect(body.steps[0]).toMatchObject({ type: 'door.open', status: 502, result: { ok: false } });
    expect(body.steps[0].result.error).toMatch(/no reply within \d+ ms/);
  }, 30_000);

  it('an unknown device is 404; a device without a harmless command is 409', async () => {
    const unknown = await post('/api/commissioning/no-such-device/test', installer.headers);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as any).error).toContain('no-such-device');
    const fence = await post('/api/commissioning/fence-1/test', installer.headers);
    expect(fence.status).toBe(409);
    expect(((await fence.json()) as any).error).toMatch(/fence-1.*no harmless test/);
  });
});
