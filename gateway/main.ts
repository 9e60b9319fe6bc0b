/**
 * `npm start`: runs the gateway on a site file (default config/example-site.yaml, with the
 * built-in device simulator) until SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfigFile } from '../config/load.ts';
import { Gateway } from './app.ts';
import { createLogger } from './core/logger.ts';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string', short: 'c' },
      simulate: { type: 'boolean' },
      'no-simulate': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: gridguard-gateway [--config site.yaml] [--simulate | --no-simulate]\n  GRIDGUARD_CONFIG, GRIDGUARD_PLATFORM_URL, GRIDGUARD_DATA_DIR, GRIDGUARD_HTTP_PORT, GRIDGUARD_MQTT_PORT override the site file');
    return 0;
  }
  const file = values.config ?? process.env.GRIDGUARD_CONFIG ?? DEFAULT_CONFIG_FILE;
  let loaded;
  try {
    loaded = loadConfigFile(file);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const log = createLogger({ level: loaded.config.log.level });
  const simulator = values.simulate ? true : values['no-simulate'] ? false : undefined;
  const gateway = new Gateway(loaded, { logger: log, ...(simulator !== undefined ? { simulator } : {}) });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: stopping`);
    await gateway.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('uncaughtException', (error) => {
    // Let the service manager restart us from a clean state; SQLite keeps what was committed.
    log.fatal({ err: error }, 'uncaught exception');
    process.exit(1);
  });

  await gateway.start();
  const { mqtt, http } = gateway.ports;
  const { config } = loaded;
  log.info(
    { site: loaded.file, mqtt, http },
    `gridguard ${config.site.communityName} (${config.site.gatewayId}) running — console/API http://${config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host}:${http}/ · MQTT broker port ${mqtt}`,
  );
  return -1;
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    console.error('gridguard failed to start:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
