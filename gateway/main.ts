/**
 * `npm start`: runs the gateway on a site file (default config/example-site.yaml, with the
 * built-in device simulator) until SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_FILE } from '../config/load.ts';
import { runGatewayProcess } from './run-process.ts';

const { values } = parseArgs({
  options: {
    config: { type: 'string', short: 'c' },
    simulate: { type: 'boolean' },
    'no-simulate': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  console.log(
    'usage: npm start -- [--config site.yaml] [--simulate | --no-simulate]\n' +
      '  GRIDGUARD_CONFIG, GRIDGUARD_PLATFORM_URL, GRIDGUARD_DATA_DIR, GRIDGUARD_HTTP_PORT, GRIDGUARD_MQTT_PORT override the site file',
  );
  process.exit(0);
}

const simulator = values.simulate ? true : values['no-simulate'] ? false : undefined;
runGatewayProcess({ file: values.config ?? process.env.GRIDGUARD_CONFIG ?? DEFAULT_CONFIG_FILE, ...(simulator !== undefined ? { simulator } : {}) }).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('gridguard failed to start:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
