import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { hasCommand } from '../helpers/tools.ts';
import { BIN, INIT_FLAGS, runCli } from './run-cli.ts';

const tempDir = () => mkdtempSync(join(tmpdir(), 'gg-cli-'));

describe('gridguard init and check (real processes, real files)', { timeout: 180_000 }, () => {
  it('init writes a commented site file that check accepts, and refuses to overwrite it without --force', async () => {
    const dir = tempDir();
    const init = await runCli(['init', 'site.yaml', ...INIT_FLAGS, '--data-dir', join(dir, 'data')], { cwd: dir });
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    const text = readFileSync(join(dir, 'site.yaml'), 'utf8');
    expect(text).toContain('communityName: "测试花园"');
    expect(text).toMatch(/^# gridguard site file for 测试花园/m);
    expect(text).toContain('# 小区网格编码');

    const check = await runCli(['check', 'site.yaml'], { cwd: dir });
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('site.yaml: OK — 测试花园 (gw-cli-1)');

    const again = await runCli(['init', 'site.yaml', ...INIT_FLAGS, '--community-name', '别的小区'], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('site.yaml exists; not overwriting it (use --force');
    expect(readFileSync(join(dir, 'site.yaml'), 'utf8')).toBe(text);

    const forced = await runCli(['init', 'site.yaml', ...INIT_FLAGS, '--community-name', '别的小区', '--force'], { cwd: dir });
    expect(forced.code).toBe(0);
    expect(readFileSync(join(dir, 'site.yaml'), 'utf8')).toContain('communityName: "别的小区"');
  });

  it('init with a platform URL writes an enabled platform section; bad values are refused before writing', async () => {
    const dir = tempDir();
    const ok = await runCli(['init', '-', ...INIT_FLAGS, '--platform-url', 'mqtts://grid.example.cn:8883'].map((a) => (a === '-' ? 'p.yaml' : a)), { cwd: dir });
    expect(ok.code).toBe(0);
    expect(readFileSync(join(dir, 'p.yaml'), 'utf8')).toMatch(/platform:\n {2}enabled: true\n {2}url: "mqtts:\/\/grid\.example\.cn:8883"/);
    expect((await runCli(['check', 'p.yaml'], { cwd: dir })).code).toBe(0);

    const bad = await runCli(['init', 'bad.yaml', ...INIT_FLAGS, '--community-grid-code', 'a b', '--platform-url', 'http://nope'], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bad\.yaml:\d+ site\.communityGridCode: must be 4–40 letters/);
    expect(bad.stderr).toMatch(/bad\.yaml:\d+ platform\.url: must be an mqtt:\/\//);
    expect(() => readFileSync(join(dir, 'bad.yaml'))).toThrow();
  });

  // `script` (util-linux) gives the CLI a real terminal; without it this one case is skipped.
  it.skipIf(!hasCommand('script'))('init on a terminal asks for what is missing, including answers typed ahead', async () => {
    const dir = tempDir();
    const answers = ['榕城花园', 'gw-9', 'CG350102', 'PG350102', '派出所', '', 'mqtt://10.0.0.1:1883'].join('\n') + '\n';
    const command = `GRIDGUARD_RUNTIME=source ${process.execPath} ${BIN} init p.yaml --data-dir ./d`;
    const output = await new Promise<string>((resolve) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
      let text = '';
      child.stdout!.on('data', (d) => (text += d));
      child.once('close', () => resolve(text));
      child.stdin!.end(answers);
    });
    expect(output).toContain('小区名称 community name: ');
    expect(output).toContain('wrote p.yaml');
    const text = readFileSync(join(dir, 'p.yaml'), 'utf8');
    expect(text).toContain('communityName: "榕城花园"');
    expect(text).toContain('gatewayId: "gw-9"');
    expect(text).toContain('url: "mqtt://10.0.0.1:1883"');
    expect((await runCli(['check', 'p.yaml'], { cwd: dir })).code).toBe(0);
  });

  it('init without a terminal names every missing flag and exits 2', async () => {
    const dir = tempDir();
    const r = await runCli(['init', 'site.yaml', '--community-name', 'x'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('missing --gateway-id, --community-grid-code, --police-grid-code, --police-station');
  });

  it('check prints every error with file, line and path, and exits 1', async () => {
    const dir = tempDir();
    const lines = [
      'site:', //                                    1
      '  gatewayId: gw-1', //                        2
      '  communityName: 小区', //                    3
      '  communityGridCode: "CG0001"', //            4
      '  policeGridCode: "P 1"', //                  5  bad code
      '  policeStation: 派出所', //                  6
      'devices:', //                                 7
      '  - id: ac-1', //                             8
      '    kind: access-controller', //              9
      '    transport: carrier-pigeon', //            10 bad enum
      '    simulated: true', //                      11
      '  - id: ac-2', //                             12
      '    kind: access-controller', //              13
      '    transport: mqtt', //                      14 no secret
      '    location: { gate: nowhere }', //          15 unknown gate
      'rules:', //                                   16
      '  - id: r1', //                               17
      '    type: access-denied-repeat', //           18
      '    params: { count: -3 }', //                19 rule param problem (engine)
    ];
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, lines.join('\n') + '\n');
    const r = await runCli(['check', 'broken.yaml'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('broken.yaml:5 site.policeGridCode: must be 4–40 letters');
    expect(r.stderr).toContain('broken.yaml:10 devices[0].transport: must be one of mqtt, serial, opcua');
    expect(r.stderr).toMatch(/broken\.yaml:1[24] devices\[1\]\.secretHash: an MQTT device needs a secretHash/);
    expect(r.stderr).toContain('broken.yaml:15 devices[1].location.gate: unknown gate "nowhere"');

    // Schema errors stop the loader before the rules are looked at; once the rest is fixed the
    // rule engine's own parameter checks are reported with their line too.
    const fixed = lines.slice(0, 6).concat(lines.slice(15));
    fixed[4] = '  policeGridCode: "PG0001"';
    writeFileSync(file, fixed.join('\n') + '\n');
    const rules = await runCli(['check', 'broken.yaml'], { cwd: dir });
    expect(rules.code).toBe(1);
    expect(rules.stderr).toMatch(/broken\.yaml:10 rules\[0\]\.params\.count: rule "r1": /);
  });

  it('check reports YAML syntax errors with their line, and a missing file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'syntax.yaml'), 'site:\n  gatewayId: gw-1\n  communityName: [unclosed\n');
    const r = await runCli(['check', 'syntax.yaml'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/syntax\.yaml:\d+ \(root\): YAML syntax:/);
    const missing = await runCli(['check', 'nope.yaml'], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.yaml (root): cannot read file');
  });

  it('check names a bad value from the environment by its variable, as the gateway would', async () => {
    const dir = tempDir();
    expect((await runCli(['init', 'site.yaml', ...INIT_FLAGS, '--data-dir', join(dir, 'data')], { cwd: dir })).code).toBe(0);
    const r = await runCli(['check', 'site.yaml'], { cwd: dir, env: { GRIDGUARD_HTTP_PORT: '99999', GRIDGUARD_PLATFORM_URL: 'http://not-mqtt' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('env GRIDGUARD_HTTP_PORT http.port: must be at most 65535');
    expect(r.stderr).toContain('env GRIDGUARD_PLATFORM_URL platform.url: must be an mqtt://');
  });

  it('check --json gives machine-readable issues', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 's.yaml'), 'site: {}\n');
    const r = await runCli(['check', 's.yaml', '--json'], { cwd: dir });
    expect(r.code).toBe(1);
    const body = JSON.parse(r.stdout);
    expect(body.ok).toBe(false);
    expect(body.issues.map((i: { path: string }) => i.path)).toEqual(expect.arrayContaining(['site.gatewayId', 'site.communityName']));
  });
});
