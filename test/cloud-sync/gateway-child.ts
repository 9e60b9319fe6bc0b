/**
 * A gateway in its own process, for crash tests: `node --import tsx gateway-child.ts site.yaml`.
 * Prints "READY {ports}" once started; logs (JSON) go to gateway.log in the data dir. The test
 * kills it with SIGKILL; SIGTERM stops it cleanly.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfigFile } from '../../config/load.ts';
import { Gateway } from '../../gateway/app.ts';
import { REDACT_PATHS } from '../../gateway/core/logger.ts';

const siteFile = process.argv[2];
if (!siteFile) {
  console.error('usage: gateway-child.ts site.yaml');
  process.exit(2);
}
const loaded = loadConfigFile(siteFile);
const logFile = join(loaded.config.storage.dataDir, 'gateway.log');
const logger = pino({ level: 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, { write: (line: string) => appendFileSync(logFile, line) });
const gateway = new Gateway(loaded, { logger, simulator: false });
await gateway.start();
process.stdout.write(`READY ${JSON.stringify(gateway.ports)}\n`);
process.on('SIGTERM', () => {
  void gateway.stop().then(() => process.exit(0));
});
