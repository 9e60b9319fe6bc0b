import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * Builds a tiny ONNX "embedding" model for tests: input [1,3,112,112] → Flatten → MatMul with a
 * fixed pseudo-random projection → output [1,dims]. It has the tensor contract of an ArcFace
 * model and exercises the plumbing (manifest, hash check, session, preprocessing, L2
 * normalisation, gallery matching). It says nothing about recognition quality: a random
 * projection of pixels is not a face embedding.
 */
export function writeTinyEmbeddingModel(dir: string, dims = 16): { path: string; sha256: string } {
  const inputs = 3 * 112 * 112;
  const weights = new Float32Array(inputs * dims);
  let seed = 12345;
  for (let i = 0; i < weights.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    weights[i] = seed / 2147483648 - 0.5;
  }
  const tensorType = (shape: number[]) => ({ tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: shape.map((d) => ({ dimValue: d })) } } });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'gridguard-test',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'tiny-embedding',
      input: [{ name: 'input', type: tensorType([1, 3, 112, 112]) }],
      output: [{ name: 'output', type: tensorType([1, dims]) }],
      initializer: [{ name: 'W', dims: [inputs, dims], dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(weights.buffer) }],
      node: [
        { opType: 'Flatten', input: ['input'], output: ['flat'], attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
        { opType: 'MatMul', input: ['flat', 'W'], output: ['output'] },
      ],
    },
  });
  const bytes = Buffer.from(onnx.ModelProto.encode(model).finish());
  const path = join(dir, 'tiny-embedding.onnx');
  writeFileSync(path, bytes);
  return { path, sha256: createHash('sha256').update(bytes).digest('hex') };
}
