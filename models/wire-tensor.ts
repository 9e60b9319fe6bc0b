import ort from './onnxruntime.ts';

/** A tensor as it crosses the thread boundary: plain data, no class. */
export interface WireTensor {
  type: ort.Tensor.Type;
  dims: readonly number[];
  data: ort.Tensor.DataType;
}

/**
 * Tensors as they cross to the other thread, and, when `transfer`, the buffers to move with them
 * rather than copy (each once; a string tensor or a shared buffer is always copied).
 */
export function toWire(tensors: Record<string, ort.Tensor>, transfer: boolean): { wire: Record<string, WireTensor>; buffers: ArrayBuffer[] } {
  const wire: Record<string, WireTensor> = {};
  for (const [name, tensor] of Object.entries(tensors)) wire[name] = { type: tensor.type, dims: tensor.dims, data: tensor.data as ort.Tensor.DataType };
  return { wire, buffers: transfer ? movableBuffers(wire) : [] };
}

/** The buffers under the tensors that can be moved to another thread, each once (not strings, not shared memory). */
export function movableBuffers(tensors: Record<string, { data: ort.Tensor.DataType }>): ArrayBuffer[] {
  const buffers: ArrayBuffer[] = [];
  for (const { data } of Object.values(tensors)) {
    if (typeof data !== 'string' && ArrayBuffer.isView(data) && data.buffer instanceof ArrayBuffer && !buffers.includes(data.buffer)) buffers.push(data.buffer);
  }
  return buffers;
}

/** The tensors again on the receiving thread. */
export function fromWire(wire: Record<string, WireTensor>): Record<string, ort.Tensor> {
  return Object.fromEntries(Object.entries(wire).map(([name, t]) => [name, new ort.Tensor(t.type, t.data as never, t.dims)]));
}
