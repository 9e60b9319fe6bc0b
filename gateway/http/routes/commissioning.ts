import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DeviceConfig } from '../../../config/schema/devices.ts';
import type { GatewayConfig } from '../../../config/schema/index.ts';
import type { CommandResult } from '../../../device-drivers/driver.ts';
import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../core/logger.ts';
import type { SiteModel } from '../../site/site-model.ts';
import { linkIdOf } from './devices.ts';

/** How long an alarm output's siren sounds during a test: long enough to hear, short enough not to alarm anyone. */
export const SIREN_TEST_MS = 1_000;
/** A door strike pulse during a test: the strike clicks, the door does not stay open. */
export const DOOR_TEST_PULSE_MS = 500;

export interface TestStep {
  type: string;
  params?: Record<string, unknown>;
}

/** The harmless command(s) the commissioning test sends to a device; null when there is none. */
export interface TestPlan {
  steps: TestStep[];
  /** Pause between the steps (the siren test: on, hold, off). */
  holdMs?: number;
  /** What the installer should see or hear, in both console languages. */
  expect: { 'zh-CN': string; en: string };
}

export interface MqttSettings {
  transport: 'mqtt';
  /** null when the broker listens on every address: the device then needs the gateway's LAN address. */
  host: string | null;
  port: number;
  tlsPort: number | null;
  clientId: string;
  username: string;
  /** Whether a secret was provisioned (`gridguard devices provision <id>`); the secret itself is never kept. */
  secret: 'provisioned' | 'simulated' | 'missing';
  protocolVersion: '3.1.1';
  topics: { events: string; heartbeat: string; availability: string; commands: string; commandResult: string };
  lastWill: { topic: string; payload: 'offline'; qos: 1 };
  heartbeatSeconds: number;
}

export interface SerialSettings {
  transport: 'serial';
  bus: string;
  path: string | null;
  baudRate: number | null;
  /** e.g. "8N1", "8E1". */
  frame: string | null;
  protocol: string;
  address: number;
  pollIntervalMs: number | null;
  /** For Modbus devices: the coils the gateway drives. */
  outputs?: { doorStrikeCoil?: number; sirenCoil?: number };
  points?: number;
}

export interface OpcuaSettings {
  transport: 'opcua';
  server: string;
  endpoint: string | null;
  securityMode: string | null;
  securityPolicy: string | null;
  nodes: { nodeId: string; name: string | null }[];
  commands: { command: string; nodeId: string }[];
}

export interface CommissioningDevice {
  id: string;
  name: string;
  kind: DeviceConfig['kind'];
  transport: DeviceConfig['transport'];
  place: string;
  /** The key of this device's link in GET /api/devices `link` and in driver health(). */
  linkId: string;
  settings: MqttSettings | SerialSettings | OpcuaSettings;
  test: TestPlan | null;
}

export interface CommissioningGroup {
  type: 'gate' | 'building' | 'other';
  id: string | null;
  name: string | null;
  devices: CommissioningDevice[];
}

const ANY_ADDRESS = new Set(['0.0.0.0', '::', '']);

export function mqttSettings(config: GatewayConfig, d: DeviceConfig): MqttSettings {
  const base = `devices/${d.id}`;
  return {
    transport: 'mqtt',
    host: ANY_ADDRESS.has(config.broker.host) ? null : config.broker.host,
    port: config.broker.port,
    tlsPort: config.broker.tls?.port ?? null,
    clientId: d.id,
    username: d.id,
    secret: d.secretHash ? 'provisioned' : d.simulated ? 'simulated' : 'missing',
    protocolVersion: '3.1.1',
    topics: { events: `${base}/events`, heartbeat: `${base}/heartbeat`, availability: `${base}/availability`, commands: `${base}/commands`, commandResult: `${base}/commands/result` },
    lastWill: { topic: `${base}/availability`, payload: 'offline', qos: 1 },
    heartbeatSeconds: d.heartbeatSeconds,
  };
}

export function serialSettings(config: GatewayConfig, d: DeviceConfig): SerialSettings {
  const s = d.serial!;
  const bus = config.serialBuses.find((b) => b.id === s.bus);
  const parity = bus ? ({ none: 'N', even: 'E', odd: 'O' } as const)[bus.parity] : null;
  return {
    transport: 'serial',
    bus: s.bus,
    path: bus?.path ?? null,
    baudRate: bus?.baudRate ?? null,
    frame: bus ? `${bus.dataBits}${parity}${bus.stopBits}` : null,
    protocol: s.protocol,
    address: s.address,
    pollIntervalMs: s.pollIntervalMs ?? bus?.pollIntervalMs ?? null,
    ...(s.protocol === 'modbus-rtu'
      ? {
          outputs: {
            ...(s.outputs.doorStrike ? { doorStrikeCoil: s.outputs.doorStrike.coil } : {}),
            ...(s.outputs.siren ? { sirenCoil: s.outputs.siren.coil } : {}),
          },
          points: s.points.length,
        }
      : {}),
  };
}

export function opcuaSettings(config: GatewayConfig, d: DeviceConfig): OpcuaSettings {
  const o = d.opcua!;
  const server = config.opcuaServers.find((s) => s.id === o.server);
  return {
    transport: 'opcua',
    server: o.server,
    endpoint: server?.endpoint ?? null,
    securityMode: server?.securityMode ?? null,
    securityPolicy: server?.securityPolicy ?? null,
    nodes: o.nodes.map((n) => ({ nodeId: n.nodeId, name: n.name ?? null })),
    commands: o.commands.map((c) => ({ command: c.command, nodeId: c.nodeId })),
  };
}

const PING: TestPlan = { steps: [{ type: 'ping' }], expect: { 'zh-CN': '设备应答', en: 'the device answers' } };
const DOOR: TestPlan = {
  steps: [{ type: 'door.open', params: { ms: DOOR_TEST_PULSE_MS } }],
  expect: { 'zh-CN': `门锁继电器吸合 ${DOOR_TEST_PULSE_MS} 毫秒（听到“咔哒”）`, en: `the door strike clicks for ${DOOR_TEST_PULSE_MS} ms` },
};
const SIREN: TestPlan = {
  steps: [{ type: 'alarm.on' }, { type: 'alarm.off' }],
  holdMs: SIREN_TEST_MS,
  expect: { 'zh-CN': `声光报警器响 ${SIREN_TEST_MS / 1000} 秒后停止`, en: `the siren sounds for ${SIREN_TEST_MS / 1000} s, then stops` },
};

/**
 * The harmless test for a device, chosen per kind and by what its transport can actually do: a
 * short door-strike pulse for access controllers, a one-second siren for alarm outputs, a ping
 * otherwise. OPC-UA devices only know the commands their site file maps, and a door.open there
 * is harmless only when the mapping resets it (pulseMs), so they get a test only when one fits.
 */
export function testPlanFor(d: DeviceConfig): TestPlan | null {
  if (d.transport === 'mqtt') {
    if (d.kind === 'access-controller') return DOOR;
    if (d.kind === 'alarm-output') return SIREN;
    return PING;
  }
  if (d.transport === 'serial' && d.serial) {
    const s = d.serial;
    if (s.protocol !== 'modbus-rtu') return d.kind === 'access-controller' ? DOOR : PING;
    if (d.kind === 'alarm-output' && s.outputs.siren) return SIREN;
    if ((d.kind === 'access-controller' || d.kind === 'alarm-output') && s.outputs.doorStrike) return DOOR;
    return PING;
  }
  if (d.transport === 'opcua' && d.opcua) {
    const cmds = new Map(d.opcua.commands.map((c) => [c.command, c]));
    if (d.kind === 'alarm-output' && cmds.has('alarm.on') && cmds.has('alarm.off')) return SIREN;
    const pulse = ['relay.pulse', 'door.open'].map((c) => cmds.get(c)).find((c) => c?.pulseMs !== undefined);
    if (pulse && (d.kind === 'access-controller' || d.kind === 'alarm-output'))
      return { steps: [{ type: pulse.command }], expect: { 'zh-CN': `继电器吸合 ${pulse.pulseMs} 毫秒后复位`, en: `the relay closes for ${pulse.pulseMs} ms, then resets` } };
    if (cmds.has('ping')) return PING;
    return null;
  }
  return null;
}

/** Every configured device with what it must be set to, grouped by gate, building, then the rest. */
export function commissioningView(config: GatewayConfig, site: SiteModel): { groups: CommissioningGroup[] } {
  const groups: CommissioningGroup[] = [
    ...config.site.gates.map((g) => ({ type: 'gate' as const, id: g.id, name: g.name, devices: [] as CommissioningDevice[] })),
    ...config.site.buildings.map((b) => ({ type: 'building' as const, id: b.id, name: b.name, devices: [] as CommissioningDevice[] })),
  ];
  const other: CommissioningGroup = { type: 'other', id: null, name: null, devices: [] };
  for (const d of site.allDevices()) {
    const { place } = site.placeOf(d.id);
    const settings = d.transport === 'serial' && d.serial ? serialSettings(config, d) : d.transport === 'opcua' && d.opcua ? opcuaSettings(config, d) : mqttSettings(config, d);
    const entry: CommissioningDevice = { id: d.id, name: d.name ?? d.id, kind: d.kind, transport: d.transport, place: place.label, linkId: linkIdOf(d), settings, test: testPlanFor(d) };
    // A device at a gate belongs to the gate even if it also names a building (the devices page does the same).
    const group = (place.gate && groups.find((g) => g.type === 'gate' && g.id === place.gate)) || (place.building && groups.find((g) => g.type === 'building' && g.id === place.building)) || other;
    group.devices.push(entry);
  }
  return { groups: [...groups, other].filter((g) => g.devices.length) };
}

export interface TestStepResult extends TestStep {
  /** HTTP status of the command route: 200 ok, 502 the device refused or did not answer, 404 no driver. */
  status: number;
  result: CommandResult | { ok: false; error: string };
  elapsedMs: number;
}

/**
 * The commissioning page's API: per-device settings (for the page and the CLI) and the test
 * button. A test goes through POST /api/devices/:id/commands with the caller's own credentials,
 * so it is checked exactly like any other command; only the sequencing lives here, on the
 * server, so that a siren switched on is switched off even if the browser goes away meanwhile.
 */
export function commissioningRoutes(deps: { config: GatewayConfig; site: SiteModel; clock: Clock; log: Logger }) {
  const sleep = (ms: number) => new Promise<void>((resolve) => deps.clock.setTimeout(resolve, ms));

  return (app: FastifyInstance) => {
    const sendCommand = async (request: FastifyRequest, deviceId: string, step: TestStep): Promise<TestStepResult> => {
      const started = deps.clock.now();
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      for (const name of ['authorization', 'cookie'] as const) {
        const value = request.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const res = await app.inject({ method: 'POST', url: `/api/devices/${encodeURIComponent(deviceId)}/commands`, headers, payload: JSON.stringify({ type: step.type, ...(step.params ? { params: step.params } : {}) }) });
      let body: unknown;
      try {
        body = res.json();
      } catch {
        body = { ok: false, error: res.body || `HTTP ${res.statusCode}` };
      }
      const result = res.statusCode === 200 || res.statusCode === 502 ? (body as CommandResult) : { ok: false as const, error: (body as { error?: string }).error ?? `HTTP ${res.statusCode}` };
      return { ...step, status: res.statusCode, result, elapsedMs: deps.clock.now() - started };
    };

    app.get('/api/commissioning', { config: { access: 'devices' } }, async () => commissioningView(deps.config, deps.site));

    app.post('/api/commissioning/:id/test', { config: { access: 'commands' } }, async (request, reply) => {
      const id = (request.params as { id: string }).id;
      const device = deps.site.allDevices().find((d) => d.id === id);
      if (!device) return reply.status(404).send({ error: `no configured device ${id}` });
      const plan = testPlanFor(device);
      if (!plan) return reply.status(409).send({ error: `device ${id} has no harmless test command configured (${device.transport})` });
      deps.log.info({ deviceId: id, by: request.principal?.username, steps: plan.steps.map((s) => s.type) }, `commissioning test of ${id} by ${request.principal?.username}`);
      const steps: TestStepResult[] = [];
      steps.push(await sendCommand(request, id, plan.steps[0]!));
      // The later steps undo the first (alarm.off): they are sent even when the first failed or
      // timed out, because a device that did not answer may still have acted.
      for (const step of plan.steps.slice(1)) {
        if (plan.holdMs) await sleep(plan.holdMs);
        steps.push(await sendCommand(request, id, step));
      }
      const ok = steps.every((s) => s.result.ok);
      return { id, ok, expect: plan.expect, steps };
    });
  };
}
