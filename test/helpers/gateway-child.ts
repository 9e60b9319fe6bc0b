/**
 * A gateway in its own process, for crash and power-cut tests:
 * `node --import tsx test/helpers/gateway-child.ts site.yaml`. Prints "READY {ports}" once started;
 * logs (JSON, redacted) go to gateway.log in the data dir. SIGKILL is a crash; SIGTERM stops it cleanly.
 *
 * With GG_CUT_AFTER_WRITES=N it cuts its own power in the middle of a SQLite write transaction:
 * inside the N-th write the store runs after start (a group-commit batch, other writes of the
 * batch already executed, none committed), it prints "CUT …" and sends itself SIGKILL, spinning
 * so that it never leaves the transaction. A kill from outside cannot aim that precisely.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Database } from 'better-sqlite3';
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

const cutAfter = Number(process.env.GG_CUT_AFTER_WRITES ?? 0);
if (cutAfter > 0) {
  const writes = gateway.services.store.writes;
  const original = writes.write.bind(writes);
  let count = 0;
  writes.write = <T>(run: (db: Database) => T): Promise<T> =>
    original((db) => {
      const result = run(db);
      if (++count === cutAfter) {
        // stdout to a pipe is synchronous on Linux: the line is out before the signal.
        process.stdout.write(`CUT in write ${count}, inTransaction=${db.inTransaction}\n`);
        process.kill(process.pid, 'SIGKILL');
        for (;;) {
          // never reach COMMIT
        }
      }
      return result;
    });
}
process.stdout.write(`READY ${JSON.stringify(gateway.ports)}\n`);
process.on('SIGTERM', () => {
  void gateway.stop().then(() => process.exit(0));
});
