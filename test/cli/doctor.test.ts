import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { startGateway } from '../helpers/gateway.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { requireTool } from '../helpers/tools.ts';
import { commissionedSite, runCli } from './run-cli.ts';

const haveTools = requireTool('mosquitto', 'mosquitto') && requireTool('socat', 'socat') && requireTool('openssl', 'openssl');

function listen(port: number): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer((socket) => socket.destroy());
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function editSite(file: string, edit: (doc: ReturnType<typeof parseDocument>) => void): void {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  edit(doc);
  writeFileSync(file, doc.toString());
}

/** One line of doctor output for a check, e.g. "FAIL  broker port  …". */
function line(stdout: string, check: string): string {
  const found = stdout.split('\n').find((l) => new RegExp(`^(PASS|WARN|FAIL|SKIP) +${check.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `).test(l));
  if (!found) throw new Error(`no "${check}" line in:\n${stdout}`);
  return found;
}

describe.skipIf(!haveTools)('gridguard doctor against real ports, ptys, brokers and files', { timeout: 240_000 }, () => {
  const servers: Server[] = [];
  const platform = new Mosquitto();
  const closedPlatform = new Mosquitto({ allowAnonymous: false });
  let tlsPlatform: Mosquitto;
  let socat: ChildProcess;
  let pki: string;

  beforeAll(async () => {
    pki = mkdtempSync(join(tmpdir(), 'gg-pki-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: pki, stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=test-ca');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
    writeFileSync(join(pki, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'server.crt', '-extfile', 'server.ext');
    tlsPlatform = new Mosquitto({ listenerLines: [`cafile ${join(pki, 'ca.crt')}`, `certfile ${join(pki, 'server.crt')}`, `keyfile ${join(pki, 'server.key')}`] });
    await Promise.all([platform.start(), closedPlatform.start(), tlsPlatform.start()]);
  });

  afterAll(async () => {
    for (const s of servers) s.close();
    socat?.kill();
    await Promise.all([platform.stop(), closedPlatform.stop(), tlsPlatform?.stop()]);
  });

  it('a healthy site passes every check (exit 0): free ports, pty serial bus, OPC-UA TCP, TLS platform with login, models', async () => {
    const { dir, file } = await commissionedSite();
    socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${join(dir, 'ttyA')}`, `pty,raw,echo=0,link=${join(dir, 'ttyB')}`], { stdio: 'ignore' });
    await waitFor(() => existsSync(join(dir, 'ttyA')), 'socat pty');
    const opcua = await freePort();
    servers.push(await listen(opcua));
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    editSite(file, (doc) => {
      doc.setIn(['broker', 'host'], '127.0.0.1');
      doc.setIn(['broker', 'port'], mqttPort);
      doc.setIn(['http', 'port'], httpPort);
      doc.set('serialBuses', doc.createNode([{ id: 'rs485-1', path: join(dir, 'ttyA'), baudRate: 9600, parity: 'even' }]));
      doc.set('opcuaServers', doc.createNode([{ id: 'fire-panel', endpoint: `opc.tcp://127.0.0.1:${opcua}/UA` }]));
      doc.set('platform', doc.createNode({ enabled: true, url: `mqtts://127.0.0.1:${tlsPlatform.port}`, tls: { ca: join(pki, 'ca.crt') } }));
    });
    mkdirSync(join(dir, 'data'));
    const r = await runCli(['-c', 'site.yaml', 'doctor'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(line(r.stdout, 'config')).toMatch(/^PASS .*site\.yaml is valid/);
    expect(line(r.stdout, 'data dir')).toMatch(/^PASS .*writable, \d+ MiB free/);
    expect(line(r.stdout, 'sqlite')).toMatch(/^PASS .*no database yet/);
    expect(line(r.stdout, 'broker port')).toMatch(new RegExp(`^PASS .*127\\.0\\.0\\.1:${mqttPort} is free`));
    expect(line(r.stdout, 'serial rs485-1')).toMatch(/^PASS .*present and accessible \(9600 8E1\)/);
    expect(line(r.stdout, 'opc-ua fire-panel')).toMatch(/^PASS .*accepts TCP connections/);
    expect(line(r.stdout, 'platform')).toMatch(/^PASS .*accepts TCP connections/);
    expect(line(r.stdout, 'platform tls')).toMatch(/^PASS +platform tls +TLSv1\.[23] handshake ok, server localhost/);
    expect(line(r.stdout, 'platform login')).toMatch(/^PASS .*MQTT CONNECT accepted \(as gw-cli-1-doctor\)/);
    expect(line(r.stdout, 'clock')).toMatch(/^(SKIP|WARN) .*the platform uplink \(protocol v1\) offers no time source/);
    if (existsSync(new URL('../../models/registry.ts', import.meta.url))) expect(r.stdout).toMatch(/^PASS +model \S+ +loads/m);
    else expect(line(r.stdout, 'models')).toMatch(/^SKIP/);
    // A box whose NTP state is unknown may warn on the clock; nothing else may.
    expect(r.stdout).not.toMatch(/^FAIL/m);
    expect(r.code).toBe(r.stdout.includes('WARN') ? 1 : 0);
  });

  it('names each fault with a hint and exits 2: port taken, serial path missing, OPC-UA down, broken database, TLS to a plain port', async () => {
    const { dir, file } = await commissionedSite();
    const taken = await freePort();
    servers.push(await listen(taken));
    const closedOpcua = await freePort();
    editSite(file, (doc) => {
      doc.setIn(['broker', 'host'], '127.0.0.1');
      doc.setIn(['broker', 'port'], taken);
      doc.setIn(['http', 'port'], 0);
      doc.set('serialBuses', doc.createNode([{ id: 'rs485-1', path: join(dir, 'no-such-tty') }]));
      doc.set('opcuaServers', doc.createNode([{ id: 'perimeter', endpoint: `opc.tcp://127.0.0.1:${closedOpcua}` }]));
      doc.set('platform', doc.createNode({ enabled: true, url: `mqtts://127.0.0.1:${platform.port}` }));
    });
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'data', 'gridguard.db'), 'this is not an SQLite database, it is a text file '.repeat(200));
    const r = await runCli(['-c', 'site.yaml', 'doctor', '--no-models', '--timeout', '5000'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(line(r.stdout, 'broker port')).toMatch(new RegExp(`^FAIL .*127\\.0\\.0\\.1:${taken} is taken by another program`));
    expect(r.stdout).toContain(`hint: ss -ltnp 'sport = :${taken}'`);
    expect(line(r.stdout, 'serial rs485-1')).toMatch(/^FAIL .*no-such-tty does not exist/);
    expect(r.stdout).toContain('hint: is the USB–RS485 adapter plugged in?');
    expect(line(r.stdout, 'opc-ua perimeter')).toMatch(/^FAIL .*unreachable: ECONNREFUSED/);
    expect(line(r.stdout, 'sqlite')).toMatch(/^FAIL .*gridguard\.db: file is not a database/);
    expect(line(r.stdout, 'platform tls')).toMatch(/^FAIL .*TLS handshake with 127\.0\.0\.1:\d+ failed/);
    expect(line(r.stdout, 'models')).toMatch(/^SKIP .*--no-models/);
    expect(r.stdout).toMatch(/worst: FAIL$/m);
  });

  it('a platform that refuses the login is a warning (exit 1); an invalid site file fails first', async () => {
    const { dir, file } = await commissionedSite();
    editSite(file, (doc) => {
      doc.setIn(['broker', 'port'], 0);
      doc.setIn(['http', 'port'], 0);
      doc.set('platform', doc.createNode({ enabled: true, url: closedPlatform.url, username: 'gw', password: 'wrong' }));
    });
    const warn = await runCli(['-c', 'site.yaml', 'doctor', '--no-models', '--json'], { cwd: dir });
    const body = JSON.parse(warn.stdout);
    const login = body.results.find((x: { check: string }) => x.check === 'platform login');
    expect(login).toMatchObject({ level: 'warn', hint: expect.stringContaining('platform.username/password') });
    expect(body.results.filter((x: { level: string }) => x.level === 'fail')).toEqual([]);
    expect(warn.code).toBe(1);
    // The doctor does not create the data dir (as root it would end up owned by root).
    expect(body.results.find((x: { check: string }) => x.check === 'data dir').detail).toContain('does not exist yet; the gateway creates it at first start');
    expect(existsSync(join(dir, 'data'))).toBe(false);

    writeFileSync(file, readFileSync(file, 'utf8').replace('gatewayId: "gw-cli-1"', 'gatewayId: "bad id!"'));
    const bad = await runCli(['-c', 'site.yaml', 'doctor'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(line(bad.stdout, 'config')).toMatch(/^FAIL .*site\.yaml:\d+ site\.gatewayId: must be 1–64 letters/);
    expect(bad.stdout).toContain('hint: gridguard check site.yaml lists every error');
  });

  it('ports held by the running gateway itself pass, and its database passes integrity_check while open', async () => {
    const { dir, file } = await commissionedSite();
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    editSite(file, (doc) => {
      doc.setIn(['broker', 'host'], '127.0.0.1');
      doc.setIn(['broker', 'port'], mqttPort);
      doc.setIn(['http', 'port'], httpPort);
    });
    const gw = await startGateway(parse(readFileSync(file, 'utf8')));
    try {
      const r = await runCli(['-c', 'site.yaml', 'doctor', '--no-models'], { cwd: dir });
      expect(line(r.stdout, 'broker port')).toMatch(new RegExp(`^PASS .*:${mqttPort} in use by the running gateway`));
      expect(line(r.stdout, 'http port')).toMatch(new RegExp(`^PASS .*:${httpPort} in use by the running gateway`));
      expect(line(r.stdout, 'sqlite')).toMatch(/^PASS .*gridguard\.db ok \(integrity_check\), schema v\d+/);
      expect(r.stdout).not.toMatch(/^FAIL/m);
    } finally {
      await gw.stop();
    }
  });
});
