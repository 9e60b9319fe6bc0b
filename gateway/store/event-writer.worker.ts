// The event writer thread's entry (started by ThreadEventLog through core/worker-boot.mjs).
import { parentPort, workerData } from 'node:worker_threads';
import { serveEventWriter, type EventWriterData } from './event-writer.ts';

serveEventWriter(parentPort!, workerData as EventWriterData);
