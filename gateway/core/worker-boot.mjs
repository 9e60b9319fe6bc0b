// Entry of every gridguard worker thread. Plain JavaScript on purpose: Node 20 cannot load a
// TypeScript file as a worker, and `--import tsx` in a worker's execArgv is not honoured. From
// the sources (npm start, vitest) the worker registers tsx and then imports its TypeScript
// module; from the build (dist/) the module is already JavaScript and nothing is registered.
import { workerData } from 'node:worker_threads';

const { entry } = workerData;
if (entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(entry);
