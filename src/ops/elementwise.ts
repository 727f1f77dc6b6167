import { elementwiseWorkgroups, reluBackwardKernel, reluKernel } from '../../kernels/elementwise.wgsl.js';
import type { Dispatch, GpuRuntime, Tensor } from '../gpu/runtime.js';
import { sameShape } from './validate.js';

export function encodeRelu(x: Tensor, y: Tensor): Dispatch[] {
  return [{ kernel: reluKernel(), buffers: [x, y], params: [x.size], workgroups: elementwiseWorkgroups(x.size) }];
}

export function encodeReluBackward(x: Tensor, dy: Tensor, dx: Tensor): Dispatch[] {
  return [{ kernel: reluBackwardKernel(), buffers: [x, dy, dx], params: [x.size], workgroups: elementwiseWorkgroups(x.size) }];
}

export function relu(rt: GpuRuntime, x: Tensor): Promise<Tensor> {
  return rt.produce('relu', () => rt.empty(x.shape, 'f32', 'relu'), (y) => encodeRelu(x, y));
}

export function reluBackward(rt: GpuRuntime, x: Tensor, dy: Tensor): Promise<Tensor> {
  sameShape('reluBackward', 'dy', dy, 'x', x);
  return rt.produce('reluBackward', () => rt.empty(x.shape, 'f32', 'relu dx'), (dx) => encodeReluBackward(x, dy, dx));
}
