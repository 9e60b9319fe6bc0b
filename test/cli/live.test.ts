import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { DEVICE_SECRET_COST, hashSecret } from '../../gateway/core/secrets.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/net.ts';
import { commissionedSite, printedSecret, runCli } from './run-cli.ts';

const PLATFORM_PASSWORD = 'platform-Pw-7Hq2xV9';
const URL_PASSWORD = 'url-Pw-3Kd8sL1';
const GUARD_HASH_SOURCE = 'guard-room-Pw-5Tn1';
const RESIDENT = { name: '王秘密', card: '88812345', plate: '闽A·S3CR3T' };

describe('gridguard status, simulate and support-bundle against a running gateway', { timeout: 240_000 }, () => {
  let dir: string;
  let file: string;
  let gw: TestGateway;
  const secrets: Record<string, string> = {};
  let guardHash = '';

  beforeAll(async () => {
    ({ dir, file } = await commissionedSite());
    for (const [id, kind, where] of [
      ['ac-1', 'access-controller', ['--gate', 'gate-1']],
      ['smoke-1', 'sensor', ['--house', 'h101']],
    ] as const) {
      const add = await runCli(['-c', 'site.yaml', 'devices', 'add', '--id', id, '--kind', kind, '--transport', 'mqtt', ...where], { cwd: dir });
      expect(add.code).toBe(0);
      const provision = await runCli(['-c', 'site.yaml', 'devices', 'provision', id, '--save-secrets', 'secrets.json'], { cwd: dir });
      expect(provision.code).toBe(0);
      secrets[id] = printedSecret(provision.stdout);
    }
    // What a real site adds by hand: a guard-room MQTT user, residents, a watch entry, platform credentials.
    guardHash = await hashSecret(GUARD_HASH_SOURCE, DEVICE_SECRET_COST);
    const doc = parseDocument(readFileSync(file, 'utf8'));
    doc.setIn(['broker', 'host'], '127.0.0.1');
    doc.setIn(['broker', 'users'], doc.createNode([{ username: 'guard', passwordHash: guardHash }]));
    doc.set('registry', doc.createNode({ residents: [{ id: 'p1', name: RESIDENT.name, houses: ['h101'], cards: [RESIDENT.card], plates: [RESIDENT.plate] }] }));
    doc.set('watchlist', doc.createNode([{ id: 'w1', subject: { type: 'card', value: '66660001' }, level: 'critical', reason: '在逃' }]));
    doc.set('platform', doc.createNode({ enabled: false, url: `mqtt://gw:${URL_PASSWORD}@127.0.0.1:1`, username: 'gw', password: PLATFORM_PASSWORD }));
    writeFileSync(file, doc.toString());
    expect((await runCli(['check', 'site.yaml'], { cwd: dir })).code).toBe(0);
    gw = await startGateway(parse(readFileSync(file, 'utf8')));
  });

  afterAll(async () => {
    await gw?.stop();
  });

  it('simulate plays a forced door and a smoke alarm as the provisioned devices; the gateway raises both alerts', async () => {
    const [door, smoke] = await Promise.all([
      runCli(['-c', 'site.yaml', 'simulate', '--secrets', 'secrets.json', '--scenario', 'forced-door', '--devices', 'ac-1', '--duration', '6', '--mqtt-url', gw.mqttUrl], { cwd: dir }),
      runCli(['-c', 'site.yaml', 'simulate', '--secrets', 'secrets.json', '--scenario', 'smoke-alarm', '--devices', 'smoke-1', '--duration', '6', '--mqtt-url', gw.mqttUrl], { cwd: dir }),
    ]);
    expect(door.stderr).toBe('');
    expect(door.code).toBe(0);
    expect(door.stdout).toContain('simulating 1 device(s) [ac-1]');
    expect(smoke.code).toBe(0);
    const alerts = gw.gateway.services.store.alerts;
    await waitFor(() => alerts.list().find((a) => a.ruleId === 'door-forced' && a.deviceId === 'ac-1'), 'door-forced alert from simulate');
    await waitFor(() => alerts.list().find((a) => a.deviceId === 'smoke-1' && a.ruleId === 'alarm'), 'smoke alarm alert from simulate');
  });

  it('simulate plays a watchlisted visitor: the watched card at a door raises a watchlist alert', async () => {
    const r = await runCli(['-c', 'site.yaml', 'simulate', '--secrets', 'secrets.json', '--scenario', 'watchlisted-visitor', '--devices', 'ac-1', '--duration', '9', '--mqtt-url', gw.mqttUrl], { cwd: dir });
    expect(r.code).toBe(0);
    await waitFor(() => gw.gateway.services.store.alerts.list().find((a) => a.ruleId === 'watchlist-hit' && a.deviceId === 'ac-1'), 'watchlist-hit alert from simulate');
  });

  it('simulate refuses without usable secrets, and with a wrong one names the broker', async () => {
    writeFileSync(join(dir, 'wrong.json'), JSON.stringify({ 'ac-1': 'not-the-secret' }));
    const wrong = await runCli(['-c', 'site.yaml', 'simulate', '--secrets', 'wrong.json', '--duration', '1', '--mqtt-url', gw.mqttUrl], { cwd: dir });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`cannot connect the devices to ${gw.mqttUrl}`);
    writeFileSync(join(dir, 'none.json'), JSON.stringify({ other: 'x' }));
    const none = await runCli(['-c', 'site.yaml', 'simulate', '--secrets', 'none.json', '--duration', '1'], { cwd: dir });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no device to play');
  });

  it('status shows devices online, the outbox and the last device uplink, through the local API token', async () => {
    const r = await runCli(['-c', 'site.yaml', 'status', '--url', gw.httpUrl], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^gateway +gw-cli-1 测试花园/m);
    expect(r.stdout).toMatch(/^devices +\d+ online of 2/m);
    expect(r.stdout).toMatch(/^last device +\d+[smh] ago/m);
    expect(r.stdout).toMatch(/^outbox +\d+ waiting for the platform/m);
    const json = JSON.parse((await runCli(['-c', 'site.yaml', 'status', '--url', gw.httpUrl, '--json'], { cwd: dir })).stdout);
    expect(json.gatewayId).toBe('gw-cli-1');

    const refused = await runCli(['-c', 'site.yaml', 'status', '--url', gw.httpUrl, '--token', 'wrong-token-0123456789'], { cwd: dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('HTTP 401 — the gateway refused these credentials');
    const down = await runCli(['-c', 'site.yaml', 'status', '--url', 'http://127.0.0.1:9'], { cwd: dir });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot reach the gateway at http://127.0.0.1:9');
  });

  it('support-bundle holds config, logs, status and versions, and none of the secrets or personal data', async () => {
    const extraLog = join(dir, 'extra.log');
    writeFileSync(
      extraLog,
      [
        `plain text line quoting ${PLATFORM_PASSWORD} by mistake`,
        JSON.stringify({ level: 30, msg: 'access', cardNo: RESIDENT.card, deviceId: 'ac-1' }),
        `dialling mqtt://gw:${URL_PASSWORD}@platform.example:1883`,
      ].join('\n') + '\n',
    );
    const r = await runCli(['-c', 'site.yaml', 'support-bundle', '--url', gw.httpUrl, '--log', extraLog, '-o', 'bundle.tar.gz'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = mkdtempSync(join(tmpdir(), 'gg-bundle-x-'));
    await tar.extract({ file: join(dir, 'bundle.tar.gz'), cwd: out });
    const root = join(out, 'gridguard-support');
    const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => statSync(join(root, f)).isFile());
    expect(files).toEqual(expect.arrayContaining(['site.yaml', 'status.json', 'versions.json', 'doctor.txt', 'README.txt', 'logs/01-extra.log', 'logs/02-gateway.log']));
    const all = files.map((f) => readFileSync(join(root, f), 'utf8')).join('\n');

    const siteText = readFileSync(file, 'utf8');
    const hashes = [...siteText.matchAll(/scrypt\$[^\s"']+/g)].map((m) => m[0]);
    expect(hashes.length).toBe(3);
    const apiToken = readFileSync(join(dir, 'data', 'api-token'), 'utf8').trim();
    const forbidden = [...Object.values(secrets), ...hashes, guardHash, PLATFORM_PASSWORD, URL_PASSWORD, apiToken, RESIDENT.name, RESIDENT.card, RESIDENT.plate, '66660001'];
    for (const secret of forbidden) expect(all.includes(secret), `bundle contains "${secret}"`).toBe(false);

    const bundledSite = readFileSync(join(root, 'site.yaml'), 'utf8');
    expect(bundledSite).toContain('# 小区网格编码');
    expect(bundledSite).toContain('secretHash: "[redacted]"');
    expect(parse(bundledSite).devices.map((d: { id: string }) => d.id)).toEqual(['ac-1', 'smoke-1']);
    expect(JSON.parse(readFileSync(join(root, 'status.json'), 'utf8')).gatewayId).toBe('gw-cli-1');
    expect(JSON.parse(readFileSync(join(root, 'versions.json'), 'utf8'))).toMatchObject({ gridguard: expect.any(String), node: process.version });
    expect(readFileSync(join(root, 'logs/02-gateway.log'), 'utf8')).toContain('registry seeded from the site file');
    expect(readFileSync(join(root, 'logs/01-extra.log'), 'utf8')).toContain('plain text line quoting [redacted] by mistake');
  });
});
