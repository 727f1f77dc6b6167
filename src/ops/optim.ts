// Optimizer updates and the training step's running statistics, as dispatches a compiled graph
// records (the step's learning rate, Adam corrections and dropout seed live in the `hyper` tensor,
// kernels/optim.wgsl.ts HYPER, written before each submit).
import { accumulateKernel, adamKernel, HYPER, lossGuardKernel, optimWorkgroups, sgdKernel } from '../../kernels/optim.wgsl.js';
import type { Dispatch, TensorRef } from '../gpu/runtime.js';
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

/** v = μ·v + (g + λ·w); w −= lr·lrMul·v (4 elements per invocation where the size allows). */
export function encodeSgd(hyper: TensorRef, grad: TensorRef, w: TensorRef, v: TensorRef, o: SgdOptions): Dispatch[] {
  for (const [n, t] of [['grad', grad], ['v', v]] as const) sameShape('sgd', n, t, 'w', w);
  const width = w.size % 4 ? 1 : 4, n = w.size / width;
  return [{ kernel: sgdKernel(width), buffers: [hyper, grad, w, v], params: { n, momentum: o.momentum, decay: o.decay, lrMul: o.lrMul }, workgroups: optimWorkgroups(n) }];
}

/** Adam with bias corrections from `hyper` and L2 decay on the gradient. */
export function encodeAdam(hyper: TensorRef, grad: TensorRef, w: TensorRef, m: TensorRef, v: TensorRef, o: AdamOptions): Dispatch[] {
  for (const [n, t] of [['grad', grad], ['m', m], ['v', v]] as const) sameShape('adam', n, t, 'w', w);
  const width = w.size % 4 ? 1 : 4, n = w.size / width;
  return [{ kernel: adamKernel(width), buffers: [hyper, grad, w, m, v], params: { n, beta1: o.beta1, beta2: o.beta2, eps: o.eps, decay: o.decay, lrMul: o.lrMul }, workgroups: optimWorkgroups(n) }];
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
