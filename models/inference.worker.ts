// An inference thread's entry (started by WorkerSession through core/worker-boot.mjs): one ONNX
// session, run requests answered in order.
import ort from './onnxruntime.ts';
import { parentPort, workerData } from 'node:worker_threads';
import type { InferenceReply, InferenceRequest, InferenceWorkerData } from './inference.ts';
import { fromWire, movableBuffers, toWire } from './wire-tensor.ts';

const port = parentPort!;
const data = workerData as InferenceWorkerData;
const { intraOpThreads } = data;
const reply = (message: InferenceReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

let session: ort.InferenceSession;
try {
  // The session keeps its own copy of the graph: the bytes are not referenced from here on (they
  // are the model's size again).
  let graph: Uint8Array | null = data.bytes;
  (data as { bytes: Uint8Array | null }).bytes = null;
  session = await ort.InferenceSession.create(graph, {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    // With more than one intra-op thread, onnxruntime's pool threads spin between the operators of
    // a run and after it; on a 2-core gateway that spinning takes the core the event loop, the
    // JPEG decodes and the other models' threads need (a plate read with 2 spinning threads per
    // session took 71–81 ms against 57–62 with one thread; without spinning 53–56).
    ...(intraOpThreads > 1 ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
  });
  graph = null;
  reply({
    op: 'loaded',
    inputNames: [...session.inputNames],
    outputNames: [...session.outputNames],
    inputMetadata: session.inputMetadata.map((m) => ({ ...m })),
    outputMetadata: session.outputMetadata.map((m) => ({ ...m })),
  });
} catch (error) {
  reply({ op: 'load-failed', message: (error as Error).message.split('\n')[0]! });
  process.exit(0);
}

// One request at a time, in order: a release must not overtake a run still waiting for its turn.
let queue = Promise.resolve();
port.on('message', (request: InferenceRequest) => {
  queue = queue.then(() => handle(request));
});

async function handle(request: InferenceRequest): Promise<void> {
  if (request.op === 'release') {
    await session.release().catch(() => {});
    reply({ op: 'released', id: request.id });
    // The thread ends itself here, between runs: terminating it from outside while the native
    // binding is inside a run can abort the whole process (a Napi::Error during teardown).
    port.close();
    return;
  }
  try {
    const out = await session.run(fromWire(request.feeds));
    const { wire: outputs, buffers } = toWire(out as Record<string, ort.Tensor>, true);
    // The caller's moved input buffers go back with the answer, for its next run (WorkerSession.inputBuffer).
    const inputs = request.returnInputs ? movableBuffers(request.feeds).filter((b) => !buffers.includes(b)) : [];
    try {
      reply({ op: 'ran', id: request.id, outputs, inputs }, [...buffers, ...inputs]);
    } catch {
      reply({ op: 'ran', id: request.id, outputs, inputs: [] }); // a buffer that cannot be transferred is copied
    }
  } catch (error) {
    reply({ op: 'failed', id: request.id, message: (error as Error).message.split('\n')[0]! });
  }
}
