import ort from '../../models/onnxruntime.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkerSession } from '../../models/inference.ts';
import { BLAZEFACE_BACK, readVerified } from '../../models/manifest.ts';
import { waitFor } from '../helpers/net.ts';
import { loadModel, type LoadedModel } from '../../models/registry.ts';

/** Inference on a thread of its own (models/inference.ts): onnxruntime-node computes on the caller's thread. */
describe('inference threads', () => {
  let model: LoadedModel;
  const feeds = () => ({ [BLAZEFACE_BACK.inputs[0]!.name]: new ort.Tensor('float32', new Float32Array(256 * 256 * 3).fill(0.1), [1, 256, 256, 3]) });
  beforeAll(async () => {
    model = await loadModel(BLAZEFACE_BACK, {});
  });
  afterAll(() => model.session.release());

  it('the event loop keeps turning while a model runs', async () => {
    let done = false;
    const run = model.session.run(feeds()).then((out) => ((done = true), out));
    // Run on the caller's thread, the whole inference would fall inside one turn of the loop.
    let turns = 0;
    while (!done) {
      await new Promise((resolve) => setImmediate(resolve));
      turns++;
    }
    expect(turns).toBeGreaterThan(10);
    const out = await run;
    expect(Object.keys(out).sort()).toEqual(BLAZEFACE_BACK.outputs.map((o) => o.name).sort());
    expect(out[BLAZEFACE_BACK.outputs[0]!.name]!.dims).toEqual([1, 512, 1]);
  });

  it('runs in flight together each get their own outputs', async () => {
    const a = feeds();
    const b = { [BLAZEFACE_BACK.inputs[0]!.name]: new ort.Tensor('float32', new Float32Array(256 * 256 * 3).fill(-0.7), [1, 256, 256, 3]) };
    const [outA, outB, outA2] = await Promise.all([model.session.run(a), model.session.run(b), model.session.run(a)]);
    const scores = (o: Record<string, ort.Tensor>) => [...(o[BLAZEFACE_BACK.outputs[0]!.name]!.data as Float32Array)];
    expect(scores(outA)).toEqual(scores(outA2));
    expect(scores(outA)).not.toEqual(scores(outB));
    // Inputs are copied, not transferred: the caller's buffers stay usable.
    expect((a[BLAZEFACE_BACK.inputs[0]!.name]!.data as Float32Array).length).toBe(256 * 256 * 3);
  });

  it('transferInputs moves the input buffers to the thread: same outputs, the caller\'s copy detached', async () => {
    const copied = feeds();
    const moved = feeds();
    const data = moved[BLAZEFACE_BACK.inputs[0]!.name]!.data as Float32Array;
    const [outCopied, outMoved] = await Promise.all([model.session.run(copied), model.session.run(moved, { transferInputs: true })]);
    const scores = (o: Record<string, ort.Tensor>) => [...(o[BLAZEFACE_BACK.outputs[0]!.name]!.data as Float32Array)];
    expect(scores(outMoved)).toEqual(scores(outCopied));
    expect(data.length).toBe(0);
    expect(data.buffer.byteLength).toBe(0);
  });

  it('a moved input comes back with the answer and is handed out again by inputBuffer; a copied one does not', async () => {
    const size = 256 * 256 * 3;
    const model = await loadModel(BLAZEFACE_BACK, {}); // its own session: nothing moved through it yet
    // Nothing moved yet: a fresh, zeroed buffer.
    expect(model.session.inputBuffer(size).every((v) => v === 0)).toBe(true);
    const sent = model.session.inputBuffer(size).fill(0.25);
    await model.session.run({ [BLAZEFACE_BACK.inputs[0]!.name]: new ort.Tensor('float32', sent, [1, 256, 256, 3]) }, { transferInputs: true });
    expect(sent.length).toBe(0); // moved away
    // The same memory back, still holding what was sent (callers write every element).
    const back = model.session.inputBuffer(size);
    expect(back.length).toBe(size);
    expect(back[0]).toBe(0.25);
    expect(back[size - 1]).toBe(0.25);
    // Only one came back: the next is new. Copied inputs are not returned.
    expect(model.session.inputBuffer(size)[0]).toBe(0);
    await model.session.run(feeds());
    expect(model.session.inputBuffer(size)[0]).toBe(0);
    // Another length is another pool.
    expect(model.session.inputBuffer(100).length).toBe(100);
    await model.session.release();
  });

  it('a thread that dies is reported and started again; runs in between fail at once', async () => {
    const lost: string[] = [];
    let restarted = 0;
    const { bytes } = readVerified(BLAZEFACE_BACK.id, BLAZEFACE_BACK.source);
    const session = await WorkerSession.create(BLAZEFACE_BACK.id, () => bytes, { intraOpThreads: 1, restartAfterMs: 50, onLost: (e) => lost.push(e.message), onRestarted: () => restarted++ });
    try {
      // Killed between runs: a terminate() while the native binding is inside a run can abort the process.
      await (session as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
      // Until the new thread is up, runs fail at once rather than hang.
      await expect(session.run(feeds())).rejects.toThrow(/model blazeface-back: its inference thread exited/);
      expect(lost).toEqual([expect.stringMatching(/model blazeface-back: its inference thread exited/)]);
      await waitFor(() => restarted === 1 || undefined, 'the inference thread started again', 30_000);
      const out = await session.run(feeds());
      expect(out[BLAZEFACE_BACK.outputs[0]!.name]!.dims).toEqual([1, 512, 1]);
    } finally {
      await session.release();
    }
  });

  it('a released session is not a lost one: nothing is reported or started again, runs are refused', async () => {
    const { bytes } = readVerified(BLAZEFACE_BACK.id, BLAZEFACE_BACK.source);
    const lost: string[] = [];
    const session = await WorkerSession.create(BLAZEFACE_BACK.id, () => bytes, { intraOpThreads: 1, restartAfterMs: 10, onLost: (e) => lost.push(e.message) });
    await session.release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(lost).toEqual([]);
    await expect(session.run(feeds())).rejects.toThrow(/model blazeface-back: released/);
  });
});
