import type { Command } from 'commander';
import { GatewayApi, withApiOptions, type ApiOptions } from './api-client.ts';
import { siteFileFrom } from './common.ts';
import { formatResults, LEVEL_ORDER, runDoctor, worst } from './doctor-checks.ts';
import { loadQuietly } from './status.ts';

/** Exit codes: 0 every check passed (or was skipped), 1 the worst was a warning, 2 something failed. */
export function registerDoctor(program: Command): void {
  withApiOptions(program.command('doctor').description('check config, disk, database, ports, serial, OPC-UA, platform link, clock and models; exit 0 ok, 1 warnings, 2 failures'))
    .option('--timeout <ms>', 'network probe timeout', '3000')
    .option('--no-models', 'skip loading the ONNX models (slow on small boxes)')
    .option('--json', 'print JSON')
    .action(async (options: ApiOptions & { timeout: string; models: boolean; json?: boolean }) => {
      const file = siteFileFrom(program.opts<{ config?: string }>().config);
      const timeoutMs = Number(options.timeout) || 3000;
      const loaded = loadQuietly(file);
      const api = loaded ? GatewayApi.from({ ...options, timeoutMs }, loaded) : null;
      const results = await runDoctor({ file, env: process.env, timeoutMs, api }, { models: options.models });
      const level = worst(results);
      if (options.json) console.log(JSON.stringify({ file, worst: level, results }, null, 2));
      else console.log(`${formatResults(results)}\n\nworst: ${level.toUpperCase()}`);
      process.exitCode = LEVEL_ORDER[level];
    });
}
