import { ConfigError, loadConfigFile } from '../config/load.ts';
import { Gateway } from './app.ts';
import { SystemdNotifier } from './cli/sd-notify.ts';
import { createLogger } from './core/logger.ts';
import { missingNodeFlags } from './core/node-flags.ts';

/**
 * The gateway as a long-running process, shared by `npm start` (gateway/main.ts) and
 * `gridguard run` (the systemd unit): load the site file, start, tell systemd READY and feed its
 * watchdog while /healthz answers (only when NOTIFY_SOCKET is set), stop cleanly on SIGINT/SIGTERM.
 * Resolves with the exit code once the gateway has stopped.
 */
export async function runGatewayProcess(options: { file: string; simulator?: boolean }): Promise<number> {
  let loaded;
  try {
    loaded = loadConfigFile(options.file);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const { config } = loaded;
  const log = createLogger({ level: config.log.level });
  const gateway = new Gateway(loaded, { logger: log, ...(options.simulator !== undefined ? { simulator: options.simulator } : {}) });
  const localHost = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
  const healthUrl = () => `http://${localHost.includes(':') ? `[${localHost}]` : localHost}:${gateway.ports.http}/healthz`;
  const notifier = new SystemdNotifier({
    healthy: async () => {
      try {
        return (await fetch(healthUrl(), { signal: AbortSignal.timeout(5_000) })).ok;
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

  const missing = missingNodeFlags();
  if (missing.length) log.warn({ missing }, `node started without ${missing.join(' ')} (as npm start and deploy/gridguard.service pass it): more full collections on the event loop during camera reads`);
  await gateway.start();
  await notifier.start();
  const { mqtt, http } = gateway.ports;
  log.info(
    { site: loaded.file, mqtt, http, watchdogMs: notifier.intervalMs },
    `gridguard ${config.site.communityName} (${config.site.gatewayId}) running — console http://${localHost}:${http}/ · MQTT broker port ${mqtt}`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  log.info('stopping');
  await notifier.stop();
  await gateway.stop();
  return 0;
}
