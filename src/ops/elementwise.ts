import { dropoutKernel, elementwiseWorkgroups, reluBackwardKernel, reluKernel } from '../../kernels/elementwise.wgsl.js';
import type { Dispatch, GpuRuntime, Tensor, TensorRef } from '../gpu/runtime.js';
import { live, sameShape, operand } from './validate.js';

/** y = max(x, 0), elementwise; x and y have the same shape. */
export function encodeRelu(x: TensorRef, y: TensorRef): Dispatch[] {
  sameShape('relu', 'y', y, 'x', x);
  return [{ kernel: reluKernel(), buffers: [x, y], params: { n: x.size }, workgroups: elementwiseWorkgroups(x.size) }];
}

/** dx = x > 0 ? dy : 0, elementwise (x is the forward's input). */
export function encodeReluBackward(x: TensorRef, dy: TensorRef, dx: TensorRef): Dispatch[] {
  sameShape('reluBackward', 'dy', dy, 'x', x);
  sameShape('reluBackward', 'dx', dx, 'x', x);
  return [{ kernel: reluBackwardKernel(), buffers: [x, dy, dx], params: { n: x.size }, workgroups: elementwiseWorkgroups(x.size) }];
}

/** Inverted dropout: y = keep ? x/(1−p) : 0 with keep a hash of (element index, the step seed in
 * hyper[3], kernels/optim.wgsl.ts HYPER). The backward is the same call with dy for x and the same
 * seed, which regenerates the mask instead of storing it. */
export function encodeDropout(hyper: TensorRef, x: TensorRef, y: TensorRef, p: number): Dispatch[] {
  if (!(p >= 0 && p < 1)) throw new Error(`deepfried: dropout: p must be in [0, 1), got ${p}`);
  sameShape('dropout', 'y', y, 'x', x);
  return [{ kernel: dropoutKernel(), buffers: [hyper, x, y], params: { n: x.size, p }, workgroups: elementwiseWorkgroups(x.size) }];
}

export function relu(rt: GpuRuntime, x: Tensor): Tensor {
  operand('relu', 'x', x); // required (live() skips a missing optional operand)
  live('relu', { x });
  return rt.op('relu', () => rt.empty(x.shape, 'f32', 'relu'), (y) => encodeRelu(x, y));
}

export function reluBackward(rt: GpuRuntime, x: Tensor, dy: Tensor): Tensor {
  sameShape('reluBackward', 'dy', dy, 'x', x);
  live('reluBackward', { x, dy }); // f32 both: other dtypes' bits would be read as floats
  return rt.op('reluBackward', () => rt.empty(x.shape, 'f32', 'relu dx'), (dx) => encodeReluBackward(x, dy, dx));
}
