// A graph rewrite's thread (started by WorkerSession through core/worker-boot.mjs): it rewrites
// the model it is given, hands the result back and ends. Ending is the point: decoding and
// re-encoding a 10 MB model leaves garbage and freed buffers behind, which an inference thread
// living on would keep. From dist/, four models, 12 s after start-up and a collection, with the
// unit's MALLOC_MMAP_THRESHOLD_: 167–169 MB RSS this way, 207–225 MB with the rewrite done in the
// inference thread (and 166 MB with no rewrite); without the setting both ways are 217–243 MB.
import { parentPort, workerData } from 'node:worker_threads';
import { rewriteGraph, type GraphRewrite } from './graph-rewrite.ts';

const { rewrite, bytes } = workerData as { rewrite: GraphRewrite; bytes: Uint8Array };
try {
  const out = rewriteGraph(rewrite, bytes);
  const message = { ok: true, bytes: out.bytes, stats: out.stats };
  try {
    parentPort!.postMessage(message, [out.bytes.buffer as ArrayBuffer]);
  } catch {
    parentPort!.postMessage(message); // a buffer that cannot be moved (a pooled slice) is copied
  }
} catch (error) {
  parentPort!.postMessage({ ok: false, message: (error as Error).message.split('\n')[0] });
}
