import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { arch, platform, release, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import * as tar from 'tar';
import { VERSION } from '../version.ts';
import { API_TOKEN_FILE, GatewayApi, withApiOptions, type ApiOptions } from './api-client.ts';
import { CliError, siteFileFrom } from './common.ts';
import { formatResults, runDoctor } from './doctor-checks.ts';
import { Redactor } from './redact.ts';
import { loadQuietly } from './status.ts';

/** Packages whose versions matter when diagnosing a site remotely. */
const KEY_PACKAGES = ['aedes', 'mqtt', 'better-sqlite3', 'fastify', 'node-opcua', 'serialport', 'modbus-serial', 'onnxruntime-node', 'sharp', 'pino', 'zod', 'yaml'];
export const DEFAULT_LOG_DIRS = ['/var/log/gridguard'];

function packageVersion(name: string): string | null {
  // Walk up from this file: works from the sources and from dist/ alike.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

function lastLines(file: string, count: number): string[] {
  // Logs rotate daily (docs/deployment.md), so a file is small enough to read whole.
  const lines = readFileSync(file, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-count);
}

function logFilesIn(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => /\.log(\.\d+)?$/.test(f))
      .map((f) => join(dir, f))
      .filter((f) => statSync(f).isFile());
  } catch {
    return [];
  }
}

function journal(unit: string, lines: number): Promise<string | null> {
  return new Promise((done) =>
    execFile('journalctl', ['-u', unit, '-n', String(lines), '-o', 'cat', '--no-pager'], { timeout: 10_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout) =>
      done(error ? null : stdout),
    ),
  );
}

interface BundleOptions extends ApiOptions {
  output?: string;
  log: string[];
  logLines: string;
  journal?: boolean;
  unit: string;
  doctor: boolean;
}

export function registerSupportBundle(program: Command): void {
  withApiOptions(program.command('support-bundle').description('write a tar.gz of the redacted site file, recent logs, status, doctor results and versions, for remote help'))
    .option('-o, --output <file>', 'bundle file (default: ./gridguard-support-<gateway>-<time>.tar.gz)')
    .option('--log <file>', 'another log file to include (repeatable); *.log in the data dir and /var/log/gridguard always are', (v: string, all: string[]) => [...all, v], [])
    .option('--log-lines <n>', 'last lines of each log', '5000')
    .option('--journal', 'also include the systemd journal of the service')
    .option('--unit <name>', 'systemd unit for --journal', 'gridguard')
    .option('--no-doctor', 'leave out the doctor results')
    .action(async (options: BundleOptions) => {
      const file = siteFileFrom(program.opts<{ config?: string }>().config);
      if (!existsSync(file)) throw new CliError(`${file}: no such site file`);
      const lineCount = Math.max(1, Number(options.logLines) || 5000);
      const loaded = loadQuietly(file);
      const redactor = new Redactor();
      const dataDir = loaded ? resolve(loaded.config.storage.dataDir) : null;
      // The CLI token is a secret even though it never enters the bundle: scrub it if a log quoted it.
      try {
        if (dataDir) redactor.addSecret(readFileSync(join(dataDir, API_TOKEN_FILE), 'utf8').trim());
      } catch {
        /* absent or unreadable for this user: the other redaction layers still apply */
      }

      const staging = mkdtempSync(join(tmpdir(), 'gg-bundle-'));
      const root = join(staging, 'gridguard-support');
      mkdirSync(join(root, 'logs'), { recursive: true });
      const contents: string[] = [];
      try {
        // The site file first: its secrets become literals scrubbed from everything after.
        writeFileSync(join(root, 'site.yaml'), redactor.siteFile(readFileSync(file, 'utf8')));
        contents.push(`site.yaml        the site file (${file}), secrets and personal data replaced`);

        const versions = {
          gridguard: VERSION,
          node: process.version,
          os: `${platform()} ${release()} ${arch()}`,
          packages: Object.fromEntries(KEY_PACKAGES.map((p) => [p, packageVersion(p)])),
          runtime: import.meta.url.endsWith('.ts') ? 'sources (tsx)' : 'build (dist/)',
          createdAt: new Date().toISOString(),
        };
        writeFileSync(join(root, 'versions.json'), JSON.stringify(versions, null, 2) + '\n');
        contents.push('versions.json    gridguard, Node, OS and key package versions');

        let status: unknown;
        try {
          status = await GatewayApi.from(options, loaded).get('/api/status');
        } catch (error) {
          status = { unavailable: (error as Error).message };
        }
        writeFileSync(join(root, 'status.json'), JSON.stringify(redactor.value(status), null, 2) + '\n');
        contents.push('status.json      GET /api/status of the running gateway (or why it was unavailable)');

        if (options.doctor) {
          const results = await runDoctor({ file, env: process.env, timeoutMs: 3_000, api: null }, { models: false });
          writeFileSync(join(root, 'doctor.txt'), redactor.text(formatResults(results)) + '\n');
          contents.push('doctor.txt       gridguard doctor (models not loaded)');
        }

        const logFiles = new Set(options.log.map((f) => resolve(f)));
        for (const dir of [...(dataDir ? [dataDir] : []), ...DEFAULT_LOG_DIRS]) for (const f of logFilesIn(dir)) logFiles.add(f);
        let n = 0;
        for (const log of logFiles) {
          if (!existsSync(log)) {
            console.error(`skipping ${log}: no such file`);
            continue;
          }
          const name = `${String(++n).padStart(2, '0')}-${basename(log)}`;
          writeFileSync(join(root, 'logs', name), redactor.logLines(lastLines(log, lineCount)).join('\n') + '\n');
          contents.push(`logs/${name}  last ${lineCount} lines of ${log}`);
        }
        if (options.journal) {
          const text = await journal(options.unit, lineCount);
          if (text === null) console.error(`skipping the journal: journalctl -u ${options.unit} failed`);
          else {
            writeFileSync(join(root, 'logs', 'journal.log'), redactor.logLines(text.split('\n')).join('\n'));
            contents.push(`logs/journal.log  last ${lineCount} lines of journalctl -u ${options.unit}`);
          }
        }
        writeFileSync(
          join(root, 'README.txt'),
          `gridguard support bundle\n\n${contents.join('\n')}\n\nRedacted: secretHash, passwordHash, password, token and key values, scrypt hashes,\nprivate keys, passwords in URLs, and personal data (names, cards, plates, watch values).\nNot included: the database, images, the API token, device secret files.\n`,
        );

        const gateway = loaded?.config.site.gatewayId ?? 'unknown';
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        const output = resolve(options.output ?? `gridguard-support-${gateway}-${stamp}.tar.gz`);
        mkdirSync(dirname(output), { recursive: true });
        await tar.create({ gzip: true, file: output, cwd: staging, portable: true }, ['gridguard-support']);
        console.log(`wrote ${output}\n${contents.map((c) => `  ${c}`).join('\n')}`);
      } finally {
        rmSync(staging, { recursive: true, force: true });
      }
    });
}
