/**
 * The gateway's event writer thread, cutting its own power inside a SQLite write transaction:
 * after the N-th event row (GG_CUT_AFTER_WRITES) it prints "CUT …" and sends the process SIGKILL,
 * spinning so that it never reaches COMMIT. See gateway-child.ts.
 */
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { serveEventWriter, type EventWriterData } from '../../gateway/store/event-writer.ts';

const cutAfter = Number(process.env.GG_CUT_AFTER_WRITES ?? 0);
let count = 0;
serveEventWriter(parentPort!, workerData as EventWriterData, {
  afterRow(db) {
    if (++count !== cutAfter) return;
    // fd 1 directly: a worker's process.stdout is relayed through the main thread, too late.
    writeSync(1, `CUT in write ${count}, inTransaction=${db.inTransaction}\n`);
    process.kill(process.pid, 'SIGKILL');
    for (;;) {
      // never reach COMMIT
    }
  },
});
