import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import ort from '../../models/onnxruntime.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rewritePaddleElementwise } from '../../models/graph-rewrite.ts';
import { decodeImage } from '../../models/image.ts';
import { PPOCR_DET, PPOCR_REC, readVerified } from '../../models/manifest.ts';
import { detInput } from '../../models/ppocr.ts';
import { loadModel, type LoadedModel } from '../../models/registry.ts';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'images');
const options = { intraOpNumThreads: 1, graphOptimizationLevel: 'all', logSeverityLevel: 3 } as const;

/** Seeded pseudo-random floats in [-1, 1). */
function floats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    out[i] = seed / 1073741824 - 1;
  }
  return out;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/**
 * A PP-LCNetV3-shaped chain, as paddle2onnx writes it (scalar Constant nodes, opset 11):
 *   conv3x3(pad 1) → ·s1 + b1 → hardswish → ·s2 + b2 → conv1x1 (no pad) → ·s3 + b3 → hardswish → ·s4 + b4 → conv3x3 (pad 1) → out
 * plus, when `branch`, a second reader of the first convolution's raw output (a residual-style
 * tap), which must keep that convolution's affine as it is.
 */
function paddleChain(branch = false): Uint8Array {
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const constant = (name: string, values: Float32Array | number[], dims: number[]) => {
    const data = Float32Array.from(values);
    nodes.push({ opType: 'Constant', output: [name], attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: { name, dataType: FLOAT, dims, rawData: new Uint8Array(data.buffer) } }] });
    return name;
  };
  const node = (opType: string, input: string[], output: string, attribute: onnxProto.onnx.IAttributeProto[] = []) => {
    nodes.push({ opType, input, output: [output], attribute });
    return output;
  };
  const ints = (name: string, v: number[]) => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
  const conv = (x: string, name: string, cin: number, cout: number, k: number, pad: number, seed: number) =>
    node('Conv', [x, constant(`${name}.w`, floats(cout * cin * k * k, seed), [cout, cin, k, k]), constant(`${name}.b`, floats(cout, seed + 1), [cout])], name, [
      ints('kernel_shape', [k, k]),
      ints('pads', [pad, pad, pad, pad]),
      ints('strides', [1, 1]),
    ]);
  const affine = (x: string, name: string, s: number, b: number) => node('Add', [node('Mul', [constant(`${name}.s`, [s], [1]), x], `${name}.mul`), constant(`${name}.b`, [b], [1])], `${name}.add`);
  const hardswish = (x: string, name: string) =>
    node('Div', [node('Mul', [x, node('Clip', [node('Add', [x, constant(`${name}.3`, [3], [])], `${name}.add3`), constant(`${name}.lo`, [0], []), constant(`${name}.hi`, [6], [])], `${name}.clip`)], `${name}.mul`), constant(`${name}.6`, [6], [])], `${name}.out`);
  const tap = conv('input', 'conv1', 3, 8, 3, 1, 11);
  let x = affine(tap, 'lab1', 1.3, -0.2);
  x = affine(hardswish(x, 'hs1'), 'lab2', 0.8, 0.1);
  x = affine(conv(x, 'conv2', 8, 8, 1, 0, 21), 'lab3', 1.1, 0.05);
  x = affine(hardswish(x, 'hs2'), 'lab4', 0.9, -0.3);
  x = conv(x, 'conv3', 8, 4, 3, 1, 31);
  if (branch) x = node('Add', [x, node('ReduceMean', [tap], 'tap.mean', [ints('axes', [1]), { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 1 }])], 'with-tap');
  const tensor = (name: string, c: number) => ({ name, type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimValue: 1 }, { dimValue: c }, { dimValue: 12 }, { dimValue: 16 }] } } } });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 11 }],
    graph: { name: 'paddle-chain', node: nodes, input: [tensor('input', 3)], output: [tensor(x, 4)] },
  });
  return onnx.ModelProto.encode(model).finish();
}

const ops = (bytes: Uint8Array) => onnx.ModelProto.decode(bytes).graph!.node!.filter((n) => n.opType !== 'Constant').map((n) => n.opType);

async function run(bytes: Uint8Array, input: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, options);
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) });
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('paddle elementwise rewrite: the patterns on a small graph', () => {
  const input = floats(3 * 12 * 16, 7);

  it('folds both affines and both hardswishes, and computes the same', async () => {
    const original = paddleChain();
    // The rewrite scales weights in the buffer it is given: it gets a copy.
    const { bytes, stats } = rewritePaddleElementwise(new Uint8Array(original));
    expect(stats).toEqual({ affineIntoConv: 2, affineIntoNextConv: 1, hardSwish: 2 });
    // conv1 (+lab1) → hs1 → [lab2 into conv2] conv2 (+lab3) → hs2 → lab4 (conv3 is padded: it stays) → conv3
    expect(ops(bytes)).toEqual(['Conv', 'HardSigmoid', 'Mul', 'Conv', 'HardSigmoid', 'Mul', 'Mul', 'Add', 'Conv']);
    expect(maxDiff(await run(original, input, [1, 3, 12, 16]), await run(bytes, input, [1, 3, 12, 16]))).toBeLessThan(1e-5);
  });

  it('leaves a chain alone where another node reads a tensor it would remove', async () => {
    const original = paddleChain(true);
    const { bytes, stats } = rewritePaddleElementwise(new Uint8Array(original));
    // conv1's output is read by the tap too: its affine is not folded; the rest still is.
    expect(stats.affineIntoConv).toBe(1);
    expect(ops(bytes).slice(0, 3)).toEqual(['Conv', 'Mul', 'Add']);
    expect(maxDiff(await run(original, input, [1, 3, 12, 16]), await run(bytes, input, [1, 3, 12, 16]))).toBeLessThan(1e-5);
  });

  it('does not take Add(3) → Clip for hardswish when the clip is not 0..6', () => {
    const model = onnx.ModelProto.decode(paddleChain());
    for (const n of model.graph!.node!) if (n.output?.[0] === 'hs1.hi') n.attribute![0]!.t!.rawData = new Uint8Array(Float32Array.of(5).buffer);
    const { stats } = rewritePaddleElementwise(onnx.ModelProto.encode(model).finish());
    expect(stats.hardSwish).toBe(1);
  });
});

describe('paddle elementwise rewrite: PP-OCRv4 as shipped', () => {
  let det: LoadedModel;
  let rec: LoadedModel;
  let detAsPublished: LoadedModel;
  let recAsPublished: LoadedModel;
  beforeAll(async () => {
    [det, rec, detAsPublished, recAsPublished] = await Promise.all([
      loadModel(PPOCR_DET, {}),
      loadModel(PPOCR_REC, {}),
      loadModel(PPOCR_DET, { graphRewrites: false }),
      loadModel(PPOCR_REC, { graphRewrites: false }),
    ]);
  }, 60_000);
  afterAll(async () => {
    for (const m of [det, rec, detAsPublished, recAsPublished]) await m?.session.release();
  });

  it('rewrites every PP-LCNetV3 block of both models (counts as loaded)', () => {
    expect(det.session.rewrite).toEqual({ affineIntoConv: 28, affineIntoNextConv: 10, hardSwish: 24 });
    expect(rec.session.rewrite).toEqual({ affineIntoConv: 28, affineIntoNextConv: 12, hardSwish: 28 });
    expect(detAsPublished.session.rewrite).toBeNull();
    // The file on disk is untouched: the published hash still holds.
    expect(() => readVerified(PPOCR_DET.id, PPOCR_DET.source)).not.toThrow();
  });

  it('the text detector gives the same probability map on a plate frame', async () => {
    const image = await decodeImage(await import('node:fs').then((fs) => fs.readFileSync(join(fixtures, 'plate-blue-12345.png'))), 480);
    const w = Math.round(image.width / 32) * 32, h = Math.max(32, Math.round(image.height / 32) * 32);
    const feed = () => ({ x: new ort.Tensor('float32', detInput(image, w, h), [1, 3, h, w]) });
    const a = (await detAsPublished.session.run(feed()))['sigmoid_0.tmp_0']!.data as Float32Array;
    const b = (await det.session.run(feed()))['sigmoid_0.tmp_0']!.data as Float32Array;
    expect(maxDiff(a, b)).toBeLessThan(1e-4);
  });

  it('the recogniser gives the same class probabilities', async () => {
    const input = floats(3 * 48 * 160, 99);
    const feed = () => ({ x: new ort.Tensor('float32', input.slice(), [1, 3, 48, 160]) });
    const a = (await recAsPublished.session.run(feed()))['softmax_11.tmp_0']!.data as Float32Array;
    const b = (await rec.session.run(feed()))['softmax_11.tmp_0']!.data as Float32Array;
    expect(maxDiff(a, b)).toBeLessThan(1e-4);
  });
});
