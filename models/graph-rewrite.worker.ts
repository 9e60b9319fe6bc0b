// A graph rewrite's thread (started by WorkerSession through core/worker-boot.mjs): it rewrites
// the model it is given, hands the result back and ends. Ending is the point: decoding and
// re-encoding a 10 MB model leaves tens of megabytes of garbage and freed buffers behind, which
// an inference thread living on would keep (measured: 236 against 168 MB RSS for the four models).
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
