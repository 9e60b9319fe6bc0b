/**
 * Power cut mid-transaction: the gateway runs as a child process under steady load from many
 * devices and is killed with SIGKILL again and again. Even-numbered runs cut themselves inside
 * a SQLite write transaction (gateway-child.ts, GG_CUT_AFTER_WRITES); odd-numbered runs are
 * killed from outside at a random moment. After every kill the database must open cleanly
 * (`PRAGMA integrity_check` = ok, hot WAL recovered) and hold every event a device got a PUBACK
 * for; at the end the platform broker must have received every one of them.
 *
 * What a process kill does not model: data still in the OS page cache survives it, so this
 * checks SQLite's transaction and WAL recovery, not the disk's honesty about fsync.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { stringify } from 'yaml';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { PlatformPeer, ROOT } from '../cloud-sync/platform.ts';
import { DeviceLoad } from './device-load.ts';
import { Ledger, platformRefs, storedRefs, summarize, type LedgerComparison } from './ledger.ts';
import { loadSite } from './load-site.ts';

const CHILD = join(import.meta.dirname, '..', 'helpers', 'gateway-child.ts');

export interface PowerCutOptions {
  kills: number;
  devices: number;
  /** Seed of the kill pattern, so a failing one can be replayed. */
  seed?: number;
  log?: (line: string) => void;
}

export interface KillRecord {
  run: number;
  how: 'cut-in-transaction' | 'external';
  /** What the child printed when it cut itself, or the delay of the external kill. */
  detail: string;
  walBytesAtKill: number;
  integrity: string;
  openMs: number;
  /** The ledger against the store right after this kill. */
  store: LedgerComparison;
}

export interface PowerCutFigures {
  kills: KillRecord[];
  finalStore: LedgerComparison;
  platform: LedgerComparison;
  connects: number;
  drops: number;
  startMs: number[];
}

export async function runPowerCut(options: PowerCutOptions): Promise<PowerCutFigures> {
  const log = options.log ?? ((line: string) => console.log(line));
  const rng = mulberry32(options.seed ?? 20261129);
  const broker = new Mosquitto();
  await broker.start();
  const peer = await new PlatformPeer(broker.url).connect();
  const mqttPort = await freePort();
  const { site, devices } = await loadSite(options.devices, {
    platform: { url: broker.url, reconnectMinMs: 100, reconnectMaxMs: 500, heartbeatSeconds: 0 },
  });
  (site.broker as Record<string, unknown>).port = mqttPort;
  (site.http as Record<string, unknown>).port = await freePort();
  const dbFile = join((site.storage as { dataDir: string }).dataDir, 'gridguard.db');
  const siteFile = join(mkdtempSync(join(tmpdir(), 'gg-powercut-')), 'site.yaml');
  writeFileSync(siteFile, stringify(site));

  const ledger = new Ledger();
  const load = new DeviceLoad({ mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, devices, ledger, intervalMs: 40 });
  let child: { proc: ChildProcess; out: () => string } | null = null;
  const startMs: number[] = [];

  const startChild = async (env: Record<string, string> = {}) => {
    const t0 = Date.now();
    const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, siteFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('READY') || out.includes('CUT') || proc.exitCode !== null || proc.signalCode !== null, 'gateway child to start', 60_000);
    if (!out.includes('READY') && !out.includes('CUT')) throw new Error(`gateway child exited: ${out}`);
    startMs.push(Date.now() - t0);
    child = { proc, out: () => out };
    return child;
  };
  const exited = (proc: ChildProcess) => (proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => proc.once('exit', () => resolve())));

  const kills: KillRecord[] = [];
  try {
    load.start();
    for (let run = 0; run < options.kills; run++) {
      const cut = run % 2 === 0;
      // Enough writes that the devices are connected and busy; random so the cut lands in batches of any size.
      const cutAfter = 200 + Math.floor(rng() * 1500);
      const c = await startChild(cut ? { GG_CUT_AFTER_WRITES: String(cutAfter) } : {});
      let detail: string;
      if (cut) {
        await waitFor(() => c.proc.signalCode !== null || c.proc.exitCode !== null, `run ${run}: the child to cut itself after ${cutAfter} writes`, 120_000);
        const line = c.out().split('\n').find((l) => l.startsWith('CUT'));
        if (!line || c.proc.signalCode !== 'SIGKILL') throw new Error(`run ${run}: expected a cut by SIGKILL, got ${c.proc.signalCode ?? c.proc.exitCode}: ${c.out()}`);
        detail = line;
      } else {
        const delay = 500 + Math.floor(rng() * 2500);
        await new Promise((r) => setTimeout(r, delay));
        c.proc.kill('SIGKILL');
        await exited(c.proc);
        detail = `killed ${delay} ms after READY`;
      }
      child = null;
      const walBytesAtKill = existsSync(`${dbFile}-wal`) ? statSync(`${dbFile}-wal`).size : 0;
      const t0 = Date.now();
      const db = new BetterSqlite3(dbFile);
      const integrity = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
      db.close();
      const openMs = Date.now() - t0;
      const store = ledger.compare('store', storedRefs(dbFile));
      kills.push({ run, how: cut ? 'cut-in-transaction' : 'external', detail, walBytesAtKill, integrity, openMs, store });
      log(`run ${run} (${cut ? 'cut in transaction' : 'external kill'}): ${detail}; WAL ${walBytesAtKill} B; integrity ${integrity} (${openMs} ms); ${summarize(store)}`);
    }

    const last = await startChild();
    // Keep the load up until a good share of new events went through the restarted gateway.
    const target = ledger.acked + options.devices * 20;
    await waitFor(() => ledger.acked >= target, 'the devices to publish through the last run', 120_000);
    await load.stop();
    await waitFor(
      () => {
        const db = new BetterSqlite3(dbFile, { readonly: true });
        try {
          return (db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n === 0;
        } finally {
          db.close();
        }
      },
      'the outbox to drain to the platform',
      180_000,
      200,
    );
    const finalStore = ledger.compare('store', storedRefs(dbFile));
    await waitFor(() => ledger.compare('platform', platformRefs(peer.messages, `${ROOT}/events`)).lost.length === 0, 'every acknowledged event at the platform', 30_000).catch(() => {});
    const platform = ledger.compare('platform', platformRefs(peer.messages, `${ROOT}/events`));
    log(`final: ${summarize(finalStore)}`);
    log(`final: ${summarize(platform)}`);
    last.proc.kill('SIGTERM');
    await exited(last.proc);
    child = null;
    return { kills, finalStore, platform, connects: load.stats.connects, drops: load.stats.drops, startMs };
  } finally {
    await load.stop().catch(() => {});
    if (child) {
      (child as { proc: ChildProcess }).proc.kill('SIGKILL');
    }
    await peer.close();
    await broker.stop();
  }
}

/** A small seeded PRNG (mulberry32). */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
