import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { ConfigError, formatIssue, loadConfigText } from '../../config/load.ts';
import { CliError, writeFileAtomic } from './common.ts';

export interface InitAnswers {
  gatewayId: string;
  communityName: string;
  communityGridCode: string;
  policeGridCode: string;
  policeStation: string;
  addressCode?: string;
  platformUrl?: string;
  dataDir: string;
  httpPort: number;
  mqttPort: number;
}

const QUESTIONS: { key: keyof InitAnswers; flag: string; prompt: string; required: boolean }[] = [
  { key: 'communityName', flag: '--community-name', prompt: '小区名称 community name', required: true },
  { key: 'gatewayId', flag: '--gateway-id', prompt: '网关编号 gateway id (assigned by the grid platform)', required: true },
  { key: 'communityGridCode', flag: '--community-grid-code', prompt: '小区网格编码 community grid code', required: true },
  { key: 'policeGridCode', flag: '--police-grid-code', prompt: '警务网格编码 police grid code', required: true },
  { key: 'policeStation', flag: '--police-station', prompt: '派出所 police station', required: true },
  { key: 'addressCode', flag: '--address-code', prompt: '小区地址编码 community address code (optional)', required: false },
  { key: 'platformUrl', flag: '--platform-url', prompt: '平台地址 platform broker URL, e.g. mqtts://grid.example.cn:8883 (optional)', required: false },
];

const q = (value: string) => JSON.stringify(value);

/** The commented site file `init` writes. Comments explain each section to the installer. */
export function siteTemplate(a: InitAnswers): string {
  const platform = a.platformUrl
    ? `platform:
  enabled: true
  url: ${q(a.platformUrl)}
  # clientId defaults to the gateway id. For mqtts:// give the files the platform issued
  # (relative paths resolve against this file's folder):
  # tls: { ca: pki/platform-ca.crt, cert: pki/gateway.crt, key: pki/gateway.key }`
    : `# platform:                      # the grid platform broker; events and alerts wait in the
#   enabled: true                # outbox until it is set (GRIDGUARD_PLATFORM_URL also sets it)
#   url: mqtts://grid.example.cn:8883
#   tls: { ca: pki/platform-ca.crt, cert: pki/gateway.crt, key: pki/gateway.key }`;
  return `# yaml-language-server: $schema=./site.schema.json
#
# gridguard site file for ${a.communityName}, written by \`gridguard init\` on ${new Date().toISOString().slice(0, 10)}.
# Check it with \`gridguard check\`; start the gateway with \`--config <this file>\`.
# Every field is described in config/site.schema.json (npm run schema).

site:
  gatewayId: ${q(a.gatewayId)}
  communityName: ${q(a.communityName)}
  communityGridCode: ${q(a.communityGridCode)}      # 小区网格编码
  policeGridCode: ${q(a.policeGridCode)}            # 警务网格编码 (警格)
  policeStation: ${q(a.policeStation)}
${a.addressCode ? `  addressCode: ${q(a.addressCode)}         # standard address code of the community\n` : '  # addressCode: "…"              # standard address code of the community, if assigned\n'}  # Gates, zones and buildings: devices refer to them by id under \`location\`.
  gates: []
  #  - { id: gate-east, name: 东门, addressCode: "…" }
  #  - { id: gate-north, name: 北门车行道, addressCode: "…", vehicle: true }
  zones: []
  #  - { id: wall-north, name: 北侧围墙, kind: perimeter }
  buildings: []
  #  - id: b3
  #    name: 3号楼
  #    units:
  #      - id: u1
  #        name: 1单元
  #        houses:
  #          - { id: h-3-1-301, name: "301", addressCode: "…" }

# Add devices with \`gridguard devices add\`; give MQTT devices their secret with
# \`gridguard devices provision <id>\` (shown once, only its hash is stored here).
devices: []

# RS-485 buses (serial devices refer to a bus by id):
# serialBuses:
#   - { id: rs485-1, path: /dev/serial/by-id/usb-FTDI_…-if00-port0, baudRate: 9600, parity: none }
serialBuses: []

# Omit \`rules\` for the default rule set (docs/rules.md).

broker:
  host: 0.0.0.0          # devices on the LAN connect here
  port: ${a.mqttPort}

http:
  host: 127.0.0.1        # console and API; 0.0.0.0 to reach it from the guard room PC
  port: ${a.httpPort}

storage:
  dataDir: ${q(a.dataDir)}

${platform}

log:
  level: info
  events: false          # true while commissioning shows every event in the log
`;
}

async function ask(missing: typeof QUESTIONS, answers: Partial<Record<keyof InitAnswers, string>>): Promise<void> {
  // The line iterator buffers what was typed (or pasted) ahead of a prompt; question() would drop it.
  // terminal: false leaves echo and line editing to the terminal's own cooked mode.
  const rl = createInterface({ input: process.stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  try {
    for (const question of missing) {
      process.stderr.write(`${question.prompt}: `);
      const next = await lines.next();
      const value = next.done ? '' : String(next.value).trim();
      if (value) answers[question.key] = value;
      else if (question.required) throw new CliError(`${question.flag.slice(2)} is required`);
    }
  } finally {
    rl.close();
  }
}

interface InitOptions {
  communityName?: string;
  gatewayId?: string;
  communityGridCode?: string;
  policeGridCode?: string;
  policeStation?: string;
  addressCode?: string;
  platformUrl?: string;
  dataDir: string;
  httpPort: string;
  mqttPort: string;
  force?: boolean;
  prompt: boolean;
}

export function registerInit(program: Command): void {
  const command = program
    .command('init')
    .description('write a commented site file from flags or prompts; refuses to overwrite without --force')
    .argument('[file]', 'site file to write (default: --config, GRIDGUARD_CONFIG or ./site.yaml)');
  for (const question of QUESTIONS) command.option(`${question.flag} <value>`, question.prompt);
  command
    .option('--data-dir <dir>', 'storage.dataDir', '/var/lib/gridguard')
    .option('--http-port <port>', 'console/API port', '8080')
    .option('--mqtt-port <port>', 'device MQTT port', '1883')
    .option('--force', 'overwrite an existing file')
    .option('--no-prompt', 'never prompt, even on a terminal (missing values are an error)')
    .action(async (fileArg: string | undefined, options: InitOptions) => {
      const file = fileArg ?? program.opts<{ config?: string }>().config ?? (process.env.GRIDGUARD_CONFIG || 'site.yaml');
      if (existsSync(file) && !options.force) throw new CliError(`${file} exists; not overwriting it (use --force to replace it)`);
      const answers: Partial<Record<keyof InitAnswers, string>> = {};
      for (const question of QUESTIONS) {
        const value = options[question.key as keyof InitOptions];
        if (typeof value === 'string' && value.trim()) answers[question.key] = value.trim();
      }
      const missing = QUESTIONS.filter((question) => answers[question.key] === undefined);
      const missingRequired = missing.filter((question) => question.required);
      if (missingRequired.length > 0) {
        if (options.prompt && process.stdin.isTTY) await ask(missing, answers);
        else throw new CliError(`missing ${missingRequired.map((m) => m.flag).join(', ')} (or run init on a terminal to be asked)`, 2);
      }
      const port = (name: string, value: string) => {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new CliError(`--${name} must be a port number 0–65535, got "${value}"`, 2);
        return n;
      };
      const text = siteTemplate({
        ...(answers as Record<string, string>),
        dataDir: options.dataDir,
        httpPort: port('http-port', options.httpPort),
        mqttPort: port('mqtt-port', options.mqttPort),
      } as InitAnswers);
      // Validate before writing, so a mistyped code never leaves a file that fails at start-up.
      try {
        loadConfigText(text, file, {});
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        console.error(`not written: the values given do not make a valid site file`);
        for (const issue of error.issues) console.error(formatIssue(issue));
        process.exitCode = 1;
        return;
      }
      mkdirSync(dirname(file), { recursive: true });
      writeFileAtomic(file, text, 0o640);
      console.log(`wrote ${file}\nnext: gridguard devices add --config ${file} …, then gridguard check ${file}`);
    });
}
