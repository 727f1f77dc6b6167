// maxPool2d / avgPool2d over NCHW: shape inference, validation, forward and backward dispatches.
import { avgPoolKernel, maxPool2x2Kernel, maxPoolKernel, poolWorkgroups, UNROLL_MAX } from '../../kernels/pool.wgsl.js';
import { avgPoolBackwardKernel, disjointInvocations, maxPool2x2BackwardKernel, maxPoolBackwardKernel } from '../../kernels/pool_grad.wgsl.js';
import type { Dispatch, EncodeContext, GpuRuntime, Tensor, TensorRef } from '../gpu/runtime.js';
import { pair, type PoolOptions } from './types.js';
import { dtype, fail, operand, rank } from './validate.js';

export interface PoolGeometry { kernel: [number, number]; stride: [number, number]; padding: [number, number] }

/** Resolves and checks pooling options (stride defaults to the kernel, padding to 0). */
export function poolGeometry(op: string, opts: PoolOptions): PoolGeometry {
  if (!opts || opts.kernel === undefined) fail(op, 'options need a kernel size');
  const kernel = pair(opts.kernel, 0, `${op} kernel`);
  const stride = opts.stride === undefined ? kernel : pair(opts.stride, 0, `${op} stride`);
  const padding = pair(opts.padding, 0, `${op} padding`);
  if (kernel.some((k) => k < 1)) fail(op, `kernel must be at least 1, got [${kernel}]`);
  if (stride.some((s) => s < 1)) fail(op, `stride must be at least 1, got [${stride}]`);
  if (padding.some((p, i) => p < 0 || p >= kernel[i]!)) fail(op, `padding must be in [0, kernel), got [${padding}] with kernel [${kernel}]`);
  return { kernel, stride, padding };
}

/** [N, C, OH, OW] with OH = floor((H + 2·ph − kh) / sh) + 1. */
export function pool2dShape(xShape: readonly number[], opts: PoolOptions, op = 'pool2d'): number[] {
  const g = poolGeometry(op, opts);
  if (xShape.length !== 4) fail(op, `x must have rank 4 (NCHW), got shape [${xShape}]`);
  const [n, c, h, w] = xShape as [number, number, number, number];
  const ph = h + 2 * g.padding[0], pw = w + 2 * g.padding[1];
  if (g.kernel[0] > ph || g.kernel[1] > pw) fail(op, `kernel [${g.kernel}] is larger than the padded input [${ph},${pw}]`);
  return [n, c, Math.floor((ph - g.kernel[0]) / g.stride[0]) + 1, Math.floor((pw - g.kernel[1]) / g.stride[1]) + 1];
}

function expectShape(op: string, name: string, t: TensorRef, shape: readonly number[]): void {
  rank(op, name, t, shape.length);
  if (t.shape.some((s, i) => s !== shape[i])) fail(op, `${name} must have shape [${shape}], got [${t.shape}]`);
}

function check(op: string, x: TensorRef, opts: PoolOptions): { g: PoolGeometry; out: number[] } {
  rank(op, 'x', x, 4, 'NCHW');
  dtype(op, 'x', x, 'f32');
  return { g: poolGeometry(op, opts), out: pool2dShape(x.shape, opts, op) };
}

const unrolled = (g: PoolGeometry): [number, number] | undefined => (g.kernel.every((k) => k <= UNROLL_MAX) ? g.kernel : undefined);

/** 2×2 windows tiling x exactly (stride 2, no padding, even H and W): the vec2 max-pool kernels,
 * unless the runtime's Tuning.pool.tiles2x2 turns them off (tests run both paths). */
const tiles2x2 = (ctx: EncodeContext, g: PoolGeometry, xShape: readonly number[]): boolean => ctx.tuning.pool.tiles2x2 &&
  [...g.kernel, ...g.stride].every((v) => v === 2) && g.padding.every((p) => p === 0) && xShape[2]! % 2 === 0 && xShape[3]! % 2 === 0;

/** Windows never overlap: each input cell lies in at most one. */
const disjoint = (g: PoolGeometry): boolean => g.stride[0] >= g.kernel[0] && g.stride[1] >= g.kernel[1];

function backwardLaunch(xShape: readonly number[], yShape: readonly number[], g: PoolGeometry): { params: Record<string, number>; workgroups: number } {
  const [n, c, h, w] = xShape as [number, number, number, number];
  const total = disjoint(g) ? disjointInvocations(n * c, h, w) : n * c * h * w;
  return { params: params(total, xShape, yShape, g), workgroups: poolWorkgroups(total) };
}

function params(total: number, xShape: readonly number[], yShape: readonly number[], g: PoolGeometry): Record<string, number> {
  return {
    total, H: xShape[2]!, W: xShape[3]!, OH: yShape[2]!, OW: yShape[3]!,
    KH: g.kernel[0], KW: g.kernel[1], SH: g.stride[0], SW: g.stride[1], PH: g.padding[0], PW: g.padding[1],
  };
}

/** y [N, C, Ho, Wo] = the max over each window of x [N, C, H, W]; with argmax (i32, y's shape),
 * also each max's index, which the backward then reuses. */
export function encodeMaxPool2d(ctx: EncodeContext, x: TensorRef, y: TensorRef, opts: PoolOptions, argmax?: TensorRef): Dispatch[] {
  const { g, out } = check('maxPool2d', x, opts);
  expectShape('maxPool2d', 'y', y, out);
  if (argmax) { expectShape('maxPool2d', 'argmax', argmax, out); dtype('maxPool2d', 'argmax', argmax, 'i32'); }
  return [{
    kernel: tiles2x2(ctx, g, x.shape) ? maxPool2x2Kernel(Boolean(argmax)) : maxPoolKernel(Boolean(argmax), unrolled(g)), buffers: argmax ? [x, y, argmax] : [x, y],
    params: params(y.size, x.shape, out, g), workgroups: poolWorkgroups(y.size),
  }];
}

/** dx for max pooling; without a recorded argmax, the forward runs again into scratch memory. */
export function encodeMaxPool2dBackward(ctx: EncodeContext, x: TensorRef, dy: TensorRef, dx: TensorRef, opts: PoolOptions, argmax?: TensorRef): Dispatch[] {
  const op = 'maxPool2dBackward';
  const { g, out } = check(op, x, opts);
  expectShape(op, 'dy', dy, out);
  expectShape(op, 'dx', dx, x.shape);
  const pre: Dispatch[] = [];
  if (argmax) {
    expectShape(op, 'argmax', argmax, out);
    dtype(op, 'argmax', argmax, 'i32');
  } else {
    argmax = ctx.scratch(out, 'i32', 'maxPool2d argmax');
    pre.push(...encodeMaxPool2d(ctx, x, ctx.scratch(out, 'f32', 'maxPool2d y'), opts, argmax));
  }
  const backward: Dispatch = tiles2x2(ctx, g, x.shape)
    ? { kernel: maxPool2x2BackwardKernel(), buffers: [dy, argmax, dx], params: params(dy.size, x.shape, out, g), workgroups: poolWorkgroups(dy.size) }
    : { kernel: maxPoolBackwardKernel(disjoint(g)), buffers: [dy, argmax, dx], ...backwardLaunch(x.shape, out, g) };
  return [...pre, backward];
}

/** y [N, C, Ho, Wo] = the mean over each window of x [N, C, H, W] (padding left out of the mean). */
export function encodeAvgPool2d(ctx: EncodeContext, x: TensorRef, y: TensorRef, opts: PoolOptions): Dispatch[] {
  const { g, out } = check('avgPool2d', x, opts);
  expectShape('avgPool2d', 'y', y, out);
  return [{ kernel: avgPoolKernel(unrolled(g)), buffers: [x, y], params: params(y.size, x.shape, out, g), workgroups: poolWorkgroups(y.size) }];
}

/** dx for average pooling; the input shape is dx's. */
export function encodeAvgPool2dBackward(ctx: EncodeContext, dy: TensorRef, dx: TensorRef, opts: PoolOptions): Dispatch[] {
  const op = 'avgPool2dBackward';
  const { g, out } = check(op, dx, opts);
  expectShape(op, 'dy', dy, out);
  return [{ kernel: avgPoolBackwardKernel(disjoint(g)), buffers: [dy, dx], ...backwardLaunch(dx.shape, out, g) }];
}

export function maxPool2d(rt: GpuRuntime, x: Tensor, opts: PoolOptions): Tensor {
  const { out } = check('maxPool2d', x, opts);
  return rt.op('maxPool2d', () => rt.empty(out, 'f32', 'maxPool2d y'), (y, ctx) => encodeMaxPool2d(ctx, x, y, opts));
}

export function maxPool2dBackward(rt: GpuRuntime, x: Tensor, dy: Tensor, opts: PoolOptions): Tensor {
  check('maxPool2dBackward', x, opts);
  operand('maxPool2dBackward', 'dy', dy); dtype('maxPool2dBackward', 'dy', dy, 'f32'); // other dtypes' bits would be read as floats
  return rt.op('maxPool2dBackward', () => rt.empty(x.shape, 'f32', 'maxPool2d dx'), (dx, ctx) => encodeMaxPool2dBackward(ctx, x, dy, dx, opts));
}

export function avgPool2d(rt: GpuRuntime, x: Tensor, opts: PoolOptions): Tensor {
  const { out } = check('avgPool2d', x, opts);
  return rt.op('avgPool2d', () => rt.empty(out, 'f32', 'avgPool2d y'), (y, ctx) => encodeAvgPool2d(ctx, x, y, opts));
}

export function avgPool2dBackward(rt: GpuRuntime, x: Tensor, dy: Tensor, opts: PoolOptions): Tensor {
  check('avgPool2dBackward', x, opts);
  operand('avgPool2dBackward', 'dy', dy); dtype('avgPool2dBackward', 'dy', dy, 'f32');
  if ((x as { rt?: unknown }).rt !== rt) throw new Error(`deepfried: avgPool2dBackward: x [${x.shape}] belongs to another runtime (tensors cannot cross runtimes)`);
  return rt.op('avgPool2dBackward', () => rt.empty(x.shape, 'f32', 'avgPool2d dx'), (dx, ctx) => encodeAvgPool2dBackward(ctx, dy, dx, opts));
}
