import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;

export type GraphRewrite = 'paddle-elementwise';

/** Applies a manifest's graph rewrite (the only one so far: rewritePaddleElementwise); `bytes` is consumed. */
export function rewriteGraph(rewrite: GraphRewrite, bytes: Uint8Array): { bytes: Uint8Array; stats: RewriteStats } {
  switch (rewrite) {
    case 'paddle-elementwise':
      return rewritePaddleElementwise(bytes);
  }
}

/** What a rewrite changed, for the load log and the tests. */
export interface RewriteStats {
  /** Conv → Mul(scale) → Add(bias) folded into the convolution's weights and bias. */
  affineIntoConv: number;
  /** Mul(scale) → Add(bias) in front of an unpadded convolution folded into it. */
  affineIntoNextConv: number;
  /** x · clip(x + 3, 0, 6) / 6 (four passes) as x · HardSigmoid(x) (two). */
  hardSwish: number;
}

/**
 * Rewrites the elementwise chains that paddle2onnx leaves around PP-LCNetV3's convolutions
 * (PP-OCRv4 det and rec) into fewer passes over the feature maps, with the same arithmetic:
 *
 *  - each block's learnable affine after a convolution, `conv(x)·s + b`, becomes the convolution
 *    itself with weights `W·s` and bias `B·s + b`;
 *  - hardswish, exported as Add(3) → Clip(0, 6) → Mul(x) → Div(6), becomes x · HardSigmoid(x)
 *    with alpha 1/6 and beta 0.5 (opset 6, so the models keep their opset 9 and 11);
 *  - the affine after the activation, `s·x + b`, goes into the next convolution when that one
 *    has no padding (a padded border would see b where it now sees 0): weights `W·s`, bias
 *    `B + b·ΣW`.
 *
 * onnxruntime's own optimiser leaves these chains alone (its Conv+Mul fusion wants the scale as
 * a per-channel initializer; here it is a scalar Constant node). Each pass over a feature map
 * costs memory bandwidth, which is what a 2-core gateway is short of: in a profile they were a
 * quarter of the detector's and a third of the recogniser's kernel time. Results differ from
 * the original graph only by float rounding (tested). Only exact patterns are touched: a tensor
 * with another consumer, a graph output, a non-constant operand or an unexpected constant value
 * leaves its chain as exported.
 *
 * The weights in `bytes` are scaled where they lie: the caller hands the buffer over (the model's
 * thread has its own copy of the file).
 */
export function rewritePaddleElementwise(bytes: Uint8Array): { bytes: Uint8Array; stats: RewriteStats } {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph!;
  const stats: RewriteStats = { affineIntoConv: 0, affineIntoNextConv: 0, hardSwish: 0 };
  let nodes = graph.node!.slice();
  const graphOutputs = new Set(graph.output!.map((o) => o.name!));

  const constants = new Map<string, TensorProto>();
  for (const n of nodes) if (n.opType === 'Constant' && n.attribute?.[0]?.name === 'value' && n.attribute[0].t) constants.set(n.output![0]!, n.attribute[0].t);
  for (const t of graph.initializer ?? []) constants.set(t.name!, t);

  /** A tensor read by exactly one node and not a graph output: it can disappear. */
  const single = (name: string, count: Map<string, number>) => count.get(name) === 1 && !graphOutputs.has(name);
  /** The convolution's weight and bias (if any) when both are float constants only it reads: they can be rewritten. */
  const ownWeights = (conv: NodeProto, count: Map<string, number>) => {
    const [, w, b] = conv.input!;
    const weight = floatConstant(w!, constants);
    if (!weight || count.get(w!) !== 1) return null;
    const bias = b ? floatConstant(b, constants) : null;
    if (b && (!bias || count.get(b) !== 1)) return null;
    return { weight, bias };
  };
  const removed = new Set<NodeProto>();

  // 1. conv(x)·s + b → conv with folded weights.
  {
    const { count, consumerOf } = indexGraph(nodes);
    for (const conv of nodes) {
      if (conv.opType !== 'Conv' || removed.has(conv)) continue;
      const out = conv.output![0]!;
      if (!single(out, count)) continue;
      const mul = consumerOf.get(out)!;
      if (mul.opType !== 'Mul') continue;
      const scale = scalarOperand(mul, out, constants);
      const own = scale === undefined ? null : ownWeights(conv, count);
      if (scale === undefined || !own) continue;
      const { weight, bias } = own;
      let last = mul;
      let shift = 0;
      const mulOut = mul.output![0]!;
      const add = single(mulOut, count) ? consumerOf.get(mulOut) : undefined;
      if (add?.opType === 'Add') {
        const b = scalarOperand(add, mulOut, constants);
        if (b !== undefined) ((shift = b), (last = add));
      }
      const cout = weight.dims[0]!;
      const biasValues = new Float32Array(cout);
      for (let c = 0; c < cout; c++) biasValues[c] = (bias ? bias.values.get(c) : 0) * scale + shift;
      weight.values.scale(scale);
      setBias(conv, bias, biasValues, graph, constants);
      conv.output![0] = last.output![0]!;
      removed.add(mul);
      if (last !== mul) removed.add(last);
      stats.affineIntoConv++;
    }
    nodes = nodes.filter((n) => !removed.has(n));
  }

  // 2. hardswish: Add(x, 3) → Clip(0, 6) → Mul(x, ·) → Div(·, 6) → x · HardSigmoid(x).
  {
    const { count, consumerOf } = indexGraph(nodes);
    const replaced = new Map<NodeProto, NodeProto>();
    for (const add of nodes) {
      if (add.opType !== 'Add' || removed.has(add)) continue;
      const three = add.input!.findIndex((name) => scalarValue(name, constants) === 3);
      if (three < 0) continue;
      const x = add.input![1 - three]!;
      const addOut = add.output![0]!;
      if (!single(addOut, count)) continue;
      const clip = consumerOf.get(addOut)!;
      if (clip.opType !== 'Clip' || clip.input![0] !== addOut || !clipsTo(clip, 0, 6, constants)) continue;
      const clipOut = clip.output![0]!;
      if (!single(clipOut, count)) continue;
      const mul = consumerOf.get(clipOut)!;
      if (mul.opType !== 'Mul' || !(mul.input!.includes(x) && mul.input!.includes(clipOut))) continue;
      const mulOut = mul.output![0]!;
      if (!single(mulOut, count)) continue;
      const div = consumerOf.get(mulOut)!;
      if (div.opType !== 'Div' || div.input![0] !== mulOut || scalarValue(div.input![1]!, constants) !== 6) continue;
      const gate = `${div.output![0]}/hardsigmoid`;
      replaced.set(add, onnx.NodeProto.create({
        name: gate,
        opType: 'HardSigmoid',
        input: [x],
        output: [gate],
        attribute: [
          { name: 'alpha', type: onnx.AttributeProto.AttributeType.FLOAT, f: 1 / 6 },
          { name: 'beta', type: onnx.AttributeProto.AttributeType.FLOAT, f: 0.5 },
        ],
      }));
      replaced.set(div, onnx.NodeProto.create({ name: `${div.output![0]}/mul`, opType: 'Mul', input: [x, gate], output: [div.output![0]!] }));
      removed.add(clip);
      removed.add(mul);
      stats.hardSwish++;
    }
    nodes = nodes.filter((n) => !removed.has(n)).map((n) => replaced.get(n) ?? n);
  }

  // 3. s·x + b in front of an unpadded convolution → that convolution with folded weights.
  {
    const { count, producerOf } = indexGraph(nodes);
    for (const conv of nodes) {
      if (conv.opType !== 'Conv' || !unpadded(conv)) continue;
      const input = conv.input![0]!;
      if (!single(input, count)) continue;
      const add = producerOf.get(input);
      if (add?.opType !== 'Add' || removed.has(add)) continue;
      const mulOut = add.input!.find((name) => !constants.has(name));
      if (!mulOut || !single(mulOut, count)) continue;
      const shift = scalarOperand(add, mulOut, constants);
      const mul = producerOf.get(mulOut);
      if (shift === undefined || mul?.opType !== 'Mul' || removed.has(mul)) continue;
      const x = mul.input!.find((name) => !constants.has(name));
      const scale = x === undefined ? undefined : scalarOperand(mul, x, constants);
      const own = x === undefined || scale === undefined ? null : ownWeights(conv, count);
      if (x === undefined || scale === undefined || !own) continue;
      const { weight, bias } = own;
      const cout = weight.dims[0]!;
      const perOut = weight.values.length / cout;
      const biasValues = new Float32Array(cout);
      for (let c = 0; c < cout; c++) {
        let sum = 0;
        for (let i = 0; i < perOut; i++) sum += weight.values.get(c * perOut + i);
        biasValues[c] = (bias ? bias.values.get(c) : 0) + shift * sum;
      }
      weight.values.scale(scale);
      setBias(conv, bias, biasValues, graph, constants);
      conv.input![0] = x;
      removed.add(mul);
      removed.add(add);
      stats.affineIntoNextConv++;
    }
    nodes = nodes.filter((n) => !removed.has(n));
  }

  // Constants nobody reads any more (the folded scales and shifts) are dropped.
  const read = new Set(nodes.flatMap((n) => n.input ?? []));
  nodes = nodes.filter((n) => n.opType !== 'Constant' || n.output!.some((o) => read.has(o) || graphOutputs.has(o)));
  graph.node = nodes;
  return { bytes: onnx.ModelProto.encode(model).finish(), stats };
}

/** Who reads each tensor (how many nodes; the last one, which is the only one where the count is 1) and who writes it. */
function indexGraph(nodes: NodeProto[]): { count: Map<string, number>; consumerOf: Map<string, NodeProto>; producerOf: Map<string, NodeProto> } {
  const count = new Map<string, number>();
  const consumerOf = new Map<string, NodeProto>();
  const producerOf = new Map<string, NodeProto>();
  for (const n of nodes) {
    for (const input of n.input ?? []) {
      if (!input) continue;
      count.set(input, (count.get(input) ?? 0) + 1);
      consumerOf.set(input, n);
    }
    for (const output of n.output ?? []) producerOf.set(output, n);
  }
  return { count, consumerOf, producerOf };
}

/**
 * A float tensor's values where they are: in the decoded model's own bytes (rawData, often at an
 * offset no Float32Array may start at, hence the DataView) or in its float list. Weights are
 * scaled in place: copies of every weight, and the file's size again for each, were most of what
 * the rewrite left behind in the process (malloc keeps what it was given).
 */
class FloatValues {
  readonly length: number;
  private readonly view: DataView | null;
  private readonly list: number[] | null;

  constructor(tensor: TensorProto) {
    const raw = tensor.rawData;
    if (raw && raw.length) {
      this.view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      this.list = null;
      this.length = raw.byteLength >> 2;
    } else {
      this.view = null;
      this.list = tensor.floatData ?? [];
      this.length = this.list.length;
    }
  }

  get(i: number): number {
    return this.view ? this.view.getFloat32(i * 4, true) : this.list![i]!;
  }

  scale(k: number): void {
    if (this.view) for (let i = 0; i < this.length; i++) this.view.setFloat32(i * 4, Math.fround(this.view.getFloat32(i * 4, true) * k), true);
    else for (let i = 0; i < this.length; i++) this.list![i] = Math.fround(this.list![i]! * k);
  }
}

function floatConstant(name: string, constants: Map<string, TensorProto>): { tensor: TensorProto; dims: number[]; values: FloatValues } | null {
  const tensor = constants.get(name);
  if (!tensor || tensor.dataType !== onnx.TensorProto.DataType.FLOAT) return null;
  if (tensor.rawData && tensor.rawData.length % 4 !== 0) return null;
  const dims = (tensor.dims ?? []).map(Number);
  const values = new FloatValues(tensor);
  return values.length === dims.reduce((a, b) => a * b, 1) ? { tensor, dims, values } : null;
}

/** The value of a one-element float constant (shape [] or [1]). */
function scalarValue(name: string, constants: Map<string, TensorProto>): number | undefined {
  const c = floatConstant(name, constants);
  return c && c.values.length === 1 ? c.values.get(0) : undefined;
}

/** The scalar constant operand of a two-input node whose other operand is `other`. */
function scalarOperand(node: NodeProto, other: string, constants: Map<string, TensorProto>): number | undefined {
  const inputs = node.input ?? [];
  if (inputs.length !== 2) return undefined;
  const i = inputs.indexOf(other);
  if (i < 0) return undefined;
  return scalarValue(inputs[1 - i]!, constants);
}

function clipsTo(clip: NodeProto, min: number, max: number, constants: Map<string, TensorProto>): boolean {
  const attr = (name: string) => clip.attribute?.find((a) => a.name === name)?.f;
  const lo = clip.input![1] ? scalarValue(clip.input![1], constants) : attr('min');
  const hi = clip.input![2] ? scalarValue(clip.input![2], constants) : attr('max');
  return lo === min && hi === max;
}

function unpadded(conv: NodeProto): boolean {
  const autoPad = conv.attribute?.find((a) => a.name === 'auto_pad');
  if (autoPad && autoPad.s && Buffer.from(autoPad.s).toString() !== 'NOTSET' && Buffer.from(autoPad.s).toString() !== 'VALID') return false;
  const pads = conv.attribute?.find((a) => a.name === 'pads');
  return !pads || (pads.ints ?? []).every((p) => Number(p) === 0);
}

function setFloats(tensor: TensorProto, values: Float32Array): void {
  tensor.rawData = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  tensor.floatData = [];
}

/** Sets the convolution's bias, adding one (as an initializer: no place in the node order to keep) when it had none. */
function setBias(conv: NodeProto, bias: { tensor: TensorProto } | null, values: Float32Array, graph: onnxProto.onnx.IGraphProto, constants: Map<string, TensorProto>): void {
  if (bias) {
    setFloats(bias.tensor, values);
    return;
  }
  const name = `${conv.name || conv.output![0]}/folded-bias`;
  const tensor = onnx.TensorProto.create({ name, dataType: onnx.TensorProto.DataType.FLOAT, dims: [values.length] });
  setFloats(tensor, values);
  constants.set(name, tensor);
  (graph.initializer ??= []).push(tensor);
  conv.input = [conv.input![0]!, conv.input![1]!, name];
}
