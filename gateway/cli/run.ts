import type { Command } from 'commander';
import { CliError, siteFileFrom } from './common.ts';

/**
 * `gridguard run`: the gateway as a service (deploy/gridguard.service). The same process as
 * `npm start` (gateway/run-process.ts): systemd readiness, and a watchdog fed only while the
 * gateway's own HTTP health endpoint answers.
 */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the gateway in the foreground (what the systemd unit starts); READY/WATCHDOG to systemd when NOTIFY_SOCKET is set')
    .option('--simulate', 'also run the built-in simulator for the simulated devices')
    .action(async (options: { simulate?: boolean }) => {
      // Loaded here, not at the top: every other subcommand starts without the drivers and their libraries.
      const { runGatewayProcess } = await import('../run-process.ts');
      const code = await runGatewayProcess({ file: siteFileFrom(program.opts<{ config?: string }>().config), ...(options.simulate ? { simulator: true } : {}) });
      if (code !== 0) throw new CliError('the site file has errors (above)', code);
    });
}
