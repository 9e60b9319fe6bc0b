import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfigText } from '../../config/load.ts';
import { Gateway, type GatewayOptions } from '../../gateway/app.ts';
import { REDACT_PATHS } from '../../gateway/core/logger.ts';
import { DEVICE_SECRET_COST, hashSecret } from '../../gateway/core/secrets.ts';

/** Secrets the test site's devices use. The security suite greps every log for them. */
export const TEST_SECRETS: Record<string, string> = {
  'ac-1': 'secret-ac-1-Zq8wP3',
  'ac-2': 'secret-ac-2-Hk2vN9',
  'cam-1': 'secret-cam-1-Xy7tR4',
  'dp-1': 'secret-dp-1-Lm5sQ1',
  'smoke-1': 'secret-smoke-1-Wd6uJ2',
  guard: 'guard-password-Tb4nK8',
};

const hashes = new Map<string, string>();
async function hashOf(id: string): Promise<string> {
  let h = hashes.get(id);
  if (!h) {
    h = await hashSecret(TEST_SECRETS[id]!, DEVICE_SECRET_COST);
    hashes.set(id, h);
  }
  return h;
}

/** A small site: two gates, one building, five MQTT devices, a few residents and watch entries. */
export async function testSite(overrides: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gg-data-'));
  return {
    site: {
      gatewayId: 'gw-test-1',
      communityName: '测试小区',
      communityGridCode: 'CG350102001',
      policeGridCode: 'PG350102600102',
      policeStation: '测试派出所',
      addressCode: 'AC3501020000',
      gates: [
        { id: 'gate-1', name: '1号门', addressCode: 'AC3501020001' },
        { id: 'gate-2', name: '2号门', addressCode: 'AC3501020002', vehicle: true },
      ],
      zones: [{ id: 'z-north', name: '北围墙', kind: 'perimeter' }],
      buildings: [
        { id: 'b1', name: '1号楼', units: [{ id: 'u1', name: '1单元', houses: [{ id: 'h101', name: '101', addressCode: 'AC3501020101101' }] }] },
      ],
    },
    devices: [
      { id: 'ac-1', kind: 'access-controller', transport: 'mqtt', location: { gate: 'gate-1' }, secretHash: await hashOf('ac-1') },
      { id: 'ac-2', kind: 'access-controller', transport: 'mqtt', location: { building: 'b1', unit: 'u1' }, secretHash: await hashOf('ac-2') },
      { id: 'cam-1', kind: 'camera', transport: 'mqtt', location: { gate: 'gate-2' }, secretHash: await hashOf('cam-1') },
      { id: 'dp-1', kind: 'doorplate', transport: 'mqtt', location: { house: 'h101' }, secretHash: await hashOf('dp-1') },
      { id: 'smoke-1', kind: 'sensor', transport: 'mqtt', location: { house: 'h101' }, secretHash: await hashOf('smoke-1') },
    ],
    registry: {
      residents: [
        { id: 'p1', name: '张三', houses: ['h101'], cards: ['1001'], plates: ['闽A·12345'] },
        { id: 'p2', name: '李四', houses: ['h101'], cards: ['1002'], care: true },
      ],
    },
    watchlist: [
      { id: 'w1', subject: { type: 'card', value: '6666' }, level: 'critical', reason: '在逃' },
      { id: 'w2', subject: { type: 'plate', value: '闽A·88888' }, level: 'high', reason: '涉案车辆' },
    ],
    broker: { host: '127.0.0.1', port: 0, users: [{ username: 'guard', passwordHash: await hashOf('guard') }] },
    http: { host: '127.0.0.1', port: 0 },
    storage: { dataDir },
    ...overrides,
  };
}

export interface TestGateway {
  gateway: Gateway;
  dataDir: string;
  logFile: string;
  mqttUrl: string;
  httpUrl: string;
  stop(): Promise<void>;
}

/** Starts a gateway on a test site; logs go (redacted, as in production) to a file in its data dir. */
export async function startGateway(site: Record<string, unknown>, options: GatewayOptions = {}): Promise<TestGateway> {
  const loaded = loadConfigText(stringify(site), 'test-site.yaml');
  const dataDir = loaded.config.storage.dataDir;
  const logFile = join(dataDir, 'gateway.log');
  const logger =
    options.logger ??
    pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, { write: (line: string) => appendFileSync(logFile, line) });
  const gateway = new Gateway(loaded, { ...options, logger });
  await gateway.start();
  return {
    gateway,
    dataDir,
    logFile,
    mqttUrl: `mqtt://127.0.0.1:${gateway.ports.mqtt}`,
    httpUrl: `http://127.0.0.1:${gateway.ports.http}`,
    stop: () => gateway.stop(),
  };
}

/** A device as a real MQTT 3.1.1 client over TCP. */
export function connectDevice(url: string, id: string, password = TEST_SECRETS[id] ?? 'x', extra: mqtt.IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, { clientId: id, username: id, password, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, ...extra });
}

export function publishEvent(client: MqttClient, deviceId: string, event: Record<string, unknown>): Promise<unknown> {
  return client.publishAsync(`devices/${deviceId}/events`, JSON.stringify(event), { qos: 1 });
}
