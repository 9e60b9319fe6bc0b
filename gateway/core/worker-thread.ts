import { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread running `module` (a URL next to the caller, given with its `.ts` name).
 * Run from the sources, the module is TypeScript and worker-boot.mjs registers tsx for it; run
 * from the build, the same name ends in `.js`.
 */
export function startWorker(module: URL, data: Record<string, unknown> = {}): Worker {
  const fromSources = import.meta.url.endsWith('.ts');
  const entry = fromSources ? module.href : module.href.replace(/\.ts$/, '.js');
  return new Worker(new URL('./worker-boot.mjs', import.meta.url), { workerData: { ...data, entry } });
}
