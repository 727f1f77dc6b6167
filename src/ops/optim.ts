// Optimizer updates and the training step's running statistics, as dispatches a compiled graph
// records (the step's learning rate, Adam corrections and dropout seed live in the `hyper` tensor,
// kernels/optim.wgsl.ts HYPER, written before each submit).
import { accumulateKernel, adamKernel, HYPER, lossGuardKernel, optimWorkgroups, sgdKernel } from '../../kernels/optim.wgsl.js';
import { Slice, type Dispatch, type TensorRef } from '../gpu/runtime.js';
import { sameShape, shapeIs } from './validate.js';

/** Constants of an SGD update (the learning rate is the step's, in `hyper`). */
export interface SgdOptions {
  /** Momentum μ (0 for plain SGD). */
  momentum: number;
  /** L2 weight decay λ added to the gradient (0 for none). */
  decay: number;
  /** Multiplier of the step's learning rate for this parameter (Param.scale²). */
  lrMul: number;
}
/** Constants of an Adam update (the learning rate and bias corrections are the step's, in `hyper`). */
export interface AdamOptions {
  /** Decay rate of the first-moment estimate (typically 0.9). */
  beta1: number;
  /** Decay rate of the second-moment estimate (typically 0.999). */
  beta2: number;
  /** Added to √v̂ in the denominator (typically 1e-8). */
  eps: number;
  /** L2 weight decay λ added to the gradient (0 for none). */
  decay: number;
  /** Multiplier of the step's learning rate for this parameter (Param.scale). */
  lrMul: number;
}

/** The element ranges of a parameter that one binding holds each: all of it when it fits
 * `limits` (or none are given), else blocks starting at multiples of the storage offset alignment
 * (and of 4, for the vec4 kernels). */
function blocksOf(size: number, limits?: GPUSupportedLimits): { e0: number; count: number }[] {
  if (!limits || size * 4 <= limits.maxStorageBufferBindingSize) return [{ e0: 0, count: size }];
  const step = Math.max(4, limits.minStorageBufferOffsetAlignment / 4);
  const count = Math.floor(limits.maxStorageBufferBindingSize / 4 / step) * step;
  return Array.from({ length: Math.ceil(size / count) }, (_, i) => ({ e0: i * count, count: Math.min(count, size - i * count) }));
}

/** One update dispatch per block of the parameter (one for any parameter that fits a binding). */
function update(kernel: (width: 1 | 4) => Dispatch['kernel'], hyper: TensorRef, ts: TensorRef[], consts: Record<string, number>, limits?: GPUSupportedLimits): Dispatch[] {
  const blocks = blocksOf(ts[0]!.size, limits), whole = blocks.length === 1;
  return blocks.map(({ e0, count }) => {
    const width = count % 4 ? 1 : 4, n = count / width;
    const buffers = ts.map((t) => (whole ? t : new Slice(t, 4 * e0, 4 * count)));
    return { kernel: kernel(width), buffers: [hyper, ...buffers], params: { n, ...consts }, workgroups: optimWorkgroups(n) };
  });
}

/** v = μ·v + (g + λ·w); w −= lr·lrMul·v (4 elements per invocation where the size allows). With
 * the device's `limits`, a parameter larger than one binding is updated a block at a time. */
export function encodeSgd(hyper: TensorRef, grad: TensorRef, w: TensorRef, v: TensorRef, o: SgdOptions, limits?: GPUSupportedLimits): Dispatch[] {
  for (const [n, t] of [['grad', grad], ['v', v]] as const) sameShape('sgd', n, t, 'w', w);
  return update(sgdKernel, hyper, [grad, w, v], { momentum: o.momentum, decay: o.decay, lrMul: o.lrMul }, limits);
}

/** Adam with bias corrections from `hyper` and L2 decay on the gradient (blocks as encodeSgd). */
export function encodeAdam(hyper: TensorRef, grad: TensorRef, w: TensorRef, m: TensorRef, v: TensorRef, o: AdamOptions, limits?: GPUSupportedLimits): Dispatch[] {
  for (const [n, t] of [['grad', grad], ['m', m], ['v', v]] as const) sameShape('adam', n, t, 'w', w);
  return update(adamKernel, hyper, [grad, w, m, v], { beta1: o.beta1, beta2: o.beta2, eps: o.eps, decay: o.decay, lrMul: o.lrMul }, limits);
}

/** acc += src (elementwise over src's elements). */
export function encodeAccumulate(src: TensorRef, acc: TensorRef): Dispatch[] {
  sameShape('accumulate', 'acc', acc, 'src', src);
  return [{ kernel: accumulateKernel(), buffers: [src, acc], params: { n: src.size }, workgroups: optimWorkgroups(src.size) }];
}

/** A non-finite loss [1] makes the step's optimizer updates no-ops (hyper.skip) and records the step
 * (hyper.step) in firstBad [1] unless it holds one already (kernels/optim.wgsl.ts lossGuardKernel). */
export function encodeLossGuard(loss: TensorRef, hyper: TensorRef, firstBad: TensorRef): Dispatch[] {
  shapeIs('loss guard', 'loss', loss, [1]);
  shapeIs('loss guard', 'firstBad', firstBad, [1]);
  shapeIs('loss guard', 'hyper', hyper, [HYPER.length]);
  return [{ kernel: lossGuardKernel(), buffers: [loss, hyper, firstBad], params: {}, workgroups: 1 }];
}
