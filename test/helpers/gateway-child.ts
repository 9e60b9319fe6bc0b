/**
 * A gateway in its own process, for crash and power-cut tests:
 * `node --import tsx test/helpers/gateway-child.ts site.yaml`. Prints "READY {ports}" once started;
 * logs (JSON, redacted) go to gateway.log in the data dir. SIGKILL is a crash; SIGTERM stops it cleanly.
 *
 * With GG_CUT_AFTER_WRITES=N it cuts its own power in the middle of a SQLite write transaction:
 * after the N-th event row its event writer thread writes (a group-commit batch, other rows of the
 * batch already written, none committed), it prints "CUT …" and sends itself SIGKILL, spinning
 * so that it never leaves the transaction (cut-event-writer.worker.ts). A kill from outside
 * cannot aim that precisely.
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
const cutAfter = Number(process.env.GG_CUT_AFTER_WRITES ?? 0);
const gateway = new Gateway(loaded, {
  logger,
  simulator: false,
  // Events are committed by the writer thread: that is where the power is cut.
  ...(cutAfter > 0 ? { eventWriterModule: new URL('./cut-event-writer.worker.ts', import.meta.url) } : {}),
});
await gateway.start();
process.stdout.write(`READY ${JSON.stringify(gateway.ports)}\n`);
process.on('SIGTERM', () => {
  void gateway.stop().then(() => process.exit(0));
});
