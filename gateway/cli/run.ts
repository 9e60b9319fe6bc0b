import type { Command } from 'commander';
import { ConfigError, loadConfigFile } from '../../config/load.ts';
import { createLogger } from '../core/logger.ts';
import { CliError, siteFileFrom } from './common.ts';
import { SystemdNotifier } from './sd-notify.ts';

/**
 * `gridguard run`: the gateway as a service (deploy/gridguard.service). Same start-up as
 * `npm start` (gateway/main.ts), plus systemd readiness and a watchdog fed only while the
 * gateway's own HTTP health endpoint answers.
 */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the gateway in the foreground (what the systemd unit starts); READY/WATCHDOG to systemd when NOTIFY_SOCKET is set')
    .option('--simulate', 'also run the built-in simulator for the simulated devices')
    .action(async (options: { simulate?: boolean }) => {
      const file = siteFileFrom(program.opts<{ config?: string }>().config);
      let loaded;
      try {
        loaded = loadConfigFile(file);
      } catch (error) {
        if (error instanceof ConfigError) throw new CliError(error.message, 2);
        throw error;
      }
      const log = createLogger({ level: loaded.config.log.level });
      // Loaded here, not at the top: every other subcommand starts without the drivers and their libraries.
      const { Gateway } = await import('../app.ts');
      const gateway = new Gateway(loaded, { logger: log, ...(options.simulate ? { simulator: true } : {}) });
      const notifier = new SystemdNotifier({
        healthy: async () => {
          const host = loaded.config.http.host === '0.0.0.0' || loaded.config.http.host === '::' ? '127.0.0.1' : loaded.config.http.host;
          try {
            const res = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${gateway.ports.http}/healthz`, { signal: AbortSignal.timeout(5_000) });
            return res.ok;
          } catch {
            return false;
          }
        },
        onError: (message) => log.warn(message),
      });
      process.on('uncaughtException', (error) => {
        // Let the service manager restart us from a clean state; SQLite keeps what was committed.
        log.fatal({ err: error }, 'uncaught exception');
        process.exit(1);
      });
      await gateway.start();
      await notifier.start();
      log.info({ site: loaded.file, ...gateway.ports, watchdogMs: notifier.intervalMs }, `gridguard ${loaded.config.site.communityName} (${loaded.config.site.gatewayId}) running`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      log.info('stopping');
      await notifier.stop();
      await gateway.stop();
    });
}
