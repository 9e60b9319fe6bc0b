import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { verifySecret } from '../../gateway/core/secrets.ts';
import { connectDevice, publishEvent, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/net.ts';
import { commissionedSite, printedSecret, runCli } from './run-cli.ts';

describe('gridguard devices add / provision / list against real files and a real gateway', { timeout: 180_000 }, () => {
  let dir: string;
  let file: string;
  let gw: TestGateway | null = null;
  let secret = '';

  beforeAll(async () => {
    ({ dir, file } = await commissionedSite());
  });

  afterAll(async () => {
    await gw?.stop();
  });

  it('add appends devices and keeps the comments; a device that would break the file is refused', async () => {
    const add = await runCli(['-c', 'site.yaml', 'devices', 'add', '--id', 'ac-1', '--kind', 'access-controller', '--transport', 'mqtt', '--name', '东门门禁', '--gate', 'gate-1'], { cwd: dir });
    expect(add.code).toBe(0);
    expect(add.stdout).toContain('next: gridguard devices provision ac-1');
    const add2 = await runCli(['-c', 'site.yaml', 'devices', 'add', '--id', 'smoke-1', '--kind', 'sensor', '--transport', 'mqtt', '--house', 'h101', '--heartbeat', '300'], { cwd: dir });
    expect(add2.code).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('# east gate, installer note');
    expect(text).toContain('# 小区网格编码');
    expect(text).toContain('# RS-485 buses (serial devices refer to a bus by id):');
    const devices = parse(text).devices;
    expect(devices.map((d: { id: string }) => d.id)).toEqual(['ac-1', 'smoke-1']);
    expect(devices[0]).toMatchObject({ name: '东门门禁', kind: 'access-controller', transport: 'mqtt', location: { gate: 'gate-1' } });
    expect(devices[1]).toMatchObject({ heartbeatSeconds: 300, location: { house: 'h101' } });

    const bad = await runCli(['-c', 'site.yaml', 'devices', 'add', '--id', 'ac-9', '--kind', 'access-controller', '--transport', 'mqtt', '--gate', 'no-such-gate'], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/site\.yaml:\d+ devices\[2\]\.location\.gate: unknown gate "no-such-gate"/);
    const dup = await runCli(['-c', 'site.yaml', 'devices', 'add', '--id', 'ac-1', '--kind', 'camera', '--transport', 'mqtt'], { cwd: dir });
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('a device "ac-1" already exists');
    expect(readFileSync(file, 'utf8')).toBe(text);

    // Until provisioned, check says exactly what is missing.
    const check = await runCli(['check', 'site.yaml'], { cwd: dir });
    expect(check.code).toBe(1);
    expect(check.stderr).toMatch(/site\.yaml:\d+ devices\[0\]\.secretHash: an MQTT device needs a secretHash/);
  });

  it('provision stores only a scrypt hash, prints the settings with the secret once, and refuses a second time', async () => {
    const r = await runCli(['-c', 'site.yaml', 'devices', 'provision', 'ac-1', '--host', '192.168.10.2'], { cwd: dir });
    expect(r.code).toBe(0);
    secret = printedSecret(r.stdout);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.stdout).toContain('  host:         192.168.10.2');
    expect(r.stdout).toContain('  client id:    ac-1');
    expect(r.stdout).toContain('  username:     ac-1');
    expect(r.stdout).toContain('devices/ac-1/events');
    expect(r.stdout).toContain('  subscribe:    devices/ac-1/commands');
    expect(r.stdout.split(secret).length - 1).toBe(1);
    expect(r.stderr).toContain('still has 1 error(s) elsewhere');

    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(secret);
    const hash = parse(text).devices[0].secretHash as string;
    expect(hash).toMatch(/^scrypt\$4096\$8\$1\$/);
    expect(await verifySecret(secret, hash)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o640);

    const again = await runCli(['-c', 'site.yaml', 'devices', 'provision', 'ac-1'], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already has a secret; --rotate replaces it');
    expect(readFileSync(file, 'utf8')).toBe(text);

    const smoke = await runCli(['-c', 'site.yaml', 'devices', 'provision', 'smoke-1', '--json', '--save-secrets', 'secrets.json'], { cwd: dir });
    expect(smoke.code).toBe(0);
    const settings = JSON.parse(smoke.stdout);
    expect(settings).toMatchObject({ deviceId: 'smoke-1', clientId: 'smoke-1', username: 'smoke-1', port: 0, qos: 1 });
    expect(JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8'))).toEqual({ 'smoke-1': settings.password });
    expect(statSync(join(dir, 'secrets.json')).mode & 0o777).toBe(0o600);
    expect((await runCli(['check', 'site.yaml'], { cwd: dir })).code).toBe(0);

    const serial = await runCli(['-c', 'site.yaml', 'devices', 'provision', 'nope'], { cwd: dir });
    expect(serial.code).toBe(1);
    expect(serial.stderr).toContain('no device "nope"');
  });

  it('the provisioned device connects to a real gateway with its secret (and not without), and devices list shows it online', async () => {
    const site = parse(readFileSync(file, 'utf8'));
    site.broker.host = '127.0.0.1';
    gw = await startGateway(site);

    await expect(connectDevice(gw.mqttUrl, 'ac-1', 'not-the-secret')).rejects.toThrow(/Not authorized|Bad username or password/i);
    const device = await connectDevice(gw.mqttUrl, 'ac-1', secret);
    await publishEvent(device, 'ac-1', { type: 'door.forced' });
    await waitFor(() => gw!.gateway.services.store.alerts.list().find((a) => a.ruleId === 'door-forced' && a.deviceId === 'ac-1'), 'door-forced alert from the provisioned device');

    const list = await runCli(['-c', 'site.yaml', 'devices', 'list', '--url', gw.httpUrl], { cwd: dir });
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/ac-1\s+东门门禁\s+access-controller\s+mqtt\s+gate:gate-1\s+provisioned\s+online\s+\d+s ago/);
    expect(list.stdout).toMatch(/smoke-1\s+sensor\s+mqtt\s+house:h101\s+provisioned\s+offline\s+never/);
    expect(list.stdout).toContain('2 device(s) in site.yaml, 1 online');

    const json = JSON.parse((await runCli(['-c', 'site.yaml', 'devices', 'list', '--url', gw.httpUrl, '--json'], { cwd: dir })).stdout);
    expect(json.live).toBe(true);
    expect(json.devices.find((d: { id: string }) => d.id === 'ac-1').online).toBe(true);
    await device.endAsync();

    // Without the API token (another data dir) the closed API says what to pass.
    const other = await runCli(['-c', 'site.yaml', 'devices', 'list', '--url', gw.httpUrl, '--token', 'wrong-token-0123456789'], { cwd: dir });
    expect(other.code).toBe(0);
    expect(other.stderr).toContain('live state unavailable');
    expect(other.stderr).toContain('HTTP 401');
  });
});
