import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, loadConfigText } from '../../config/load.ts';
import { siteJsonSchema } from '../../config/export-schema.ts';

const MINIMAL = `site:
  gatewayId: gw-1
  communityName: 测试小区
  communityGridCode: "350102001001"
  policeGridCode: "35010260010201"
  policeStation: 东街派出所
  gates:
    - { id: gate-1, name: 东门 }
devices:
  - id: ac-1
    kind: access-controller
    transport: mqtt
    location: { gate: gate-1 }
    simulated: true
`;

function errorsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfigText(text, '/etc/gridguard/site.yaml', env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message.split('\n').slice(1);
  }
  throw new Error('expected a ConfigError');
}

describe('config loader', () => {
  it('accepts a minimal site and fills defaults', () => {
    const { config } = loadConfigText(MINIMAL, 'site.yaml');
    expect(config.broker.port).toBe(1883);
    expect(config.devices[0]!.heartbeatSeconds).toBe(60);
    expect(config.rules).toBeUndefined();
  });

  it('names file, line and path for a bad enum, as the installer sees it', () => {
    const text = MINIMAL.replace('transport: mqtt', 'transport: zigbee');
    const lines = errorsOf(text);
    const line = text.split('\n').findIndex((l) => l.includes('zigbee')) + 1;
    expect(lines).toContain(`site.yaml:${line} devices[0].transport: must be one of mqtt, serial, opcua`);
  });

  it('reports every error at once', () => {
    const text = MINIMAL.replace('transport: mqtt', 'transport: zigbee').replace('kind: access-controller', 'kind: toaster').replace('gatewayId: gw-1', 'gatewayId: "has space"');
    const lines = errorsOf(text);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.some((l) => /devices\[0\]\.kind: must be one of/.test(l))).toBe(true);
    expect(lines.some((l) => /site\.gatewayId: must be 1–64/.test(l))).toBe(true);
  });

  it('reports unknown keys, missing fields and dangling references with lines', () => {
    const text = MINIMAL.replace('location: { gate: gate-1 }', 'location: { gate: gate-9 }').replace('policeStation: 东街派出所\n', 'policeStaton: typo\n');
    const lines = errorsOf(text);
    expect(lines).toContain('site.yaml:2 site: unknown key "policeStaton"');
    expect(lines).toContain('site.yaml:2 site.policeStation: is required');
    expect(lines.some((l) => /^site\.yaml:\d+ devices\[0\]\.location\.gate: unknown gate "gate-9"$/.test(l))).toBe(true);
  });

  it('refuses an MQTT device with neither a secret hash nor the simulator', () => {
    const lines = errorsOf(MINIMAL.replace('    simulated: true\n', ''));
    expect(lines.some((l) => l.includes('devices[0].secretHash: an MQTT device needs a secretHash'))).toBe(true);
  });

  it('reports YAML syntax errors with their line', () => {
    const lines = errorsOf(MINIMAL + 'rules: [unclosed\n');
    expect(lines[0]).toMatch(/^site\.yaml:\d+ \(root\): YAML syntax/);
  });

  it('applies environment overrides and names the variable when one is bad', () => {
    const { config } = loadConfigText(MINIMAL, 'site.yaml', { GRIDGUARD_HTTP_PORT: '9090', GRIDGUARD_PLATFORM_URL: 'mqtt://127.0.0.1:1884', GRIDGUARD_DATA_DIR: '/var/lib/gg' });
    expect(config.http.port).toBe(9090);
    expect(config.platform).toMatchObject({ url: 'mqtt://127.0.0.1:1884', enabled: true });
    expect(config.storage.dataDir).toBe('/var/lib/gg');
    expect(errorsOf(MINIMAL, { GRIDGUARD_MQTT_PORT: 'eighteen' })).toContain('env GRIDGUARD_MQTT_PORT broker.port: must be a number');
  });

  it('reads a file and reports a missing one clearly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gg-cfg-'));
    writeFileSync(join(dir, 'site.yaml'), MINIMAL);
    expect(loadConfigFile(join(dir, 'site.yaml'), {}).config.site.gatewayId).toBe('gw-1');
    expect(() => loadConfigFile(join(dir, 'nope.yaml'), {})).toThrow(/cannot read file/);
  });

  it('exports the same schema as JSON Schema for editors', () => {
    const schema = siteJsonSchema() as { properties: Record<string, any> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['site', 'devices', 'registry', 'watchlist', 'rules', 'platform']));
    expect(schema.properties.devices.items.properties.transport.enum).toEqual(['mqtt', 'serial', 'opcua']);
  });

  it('loads the bundled example site', () => {
    const { config } = loadConfigFile('config/example-site.yaml', {});
    expect(config.devices.length).toBeGreaterThan(3);
    expect(config.simulator.enabled).toBe(true);
  });
});
