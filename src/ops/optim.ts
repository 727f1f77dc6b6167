// Optimizer updates and the training step's running statistics, as dispatches a compiled graph
// records (the step's learning rate, Adam corrections and dropout seed live in the `hyper` tensor,
// kernels/optim.wgsl.ts HYPER, written before each submit).
import { accumulateKernel, adamKernel, optimWorkgroups, sgdKernel } from '../../kernels/optim.wgsl.js';
import type { Dispatch, TensorRef } from '../gpu/runtime.js';
import { sameShape } from './validate.js';

export interface SgdOptions { momentum: number; decay: number; lrMul: number }
export interface AdamOptions { beta1: number; beta2: number; eps: number; decay: number; lrMul: number }

/** v = μ·v + (g + λ·w); w −= lr·lrMul·v. */
export function encodeSgd(hyper: TensorRef, grad: TensorRef, w: TensorRef, v: TensorRef, o: SgdOptions): Dispatch[] {
  for (const [n, t] of [['grad', grad], ['v', v]] as const) sameShape('sgd', n, t, 'w', w);
  return [{ kernel: sgdKernel(), buffers: [hyper, grad, w, v], params: { n: w.size, momentum: o.momentum, decay: o.decay, lrMul: o.lrMul }, workgroups: optimWorkgroups(w.size) }];
}

/** Adam with bias corrections from `hyper` and L2 decay on the gradient. */
export function encodeAdam(hyper: TensorRef, grad: TensorRef, w: TensorRef, m: TensorRef, v: TensorRef, o: AdamOptions): Dispatch[] {
  for (const [n, t] of [['grad', grad], ['m', m], ['v', v]] as const) sameShape('adam', n, t, 'w', w);
  return [{ kernel: adamKernel(), buffers: [hyper, grad, w, m, v], params: { n: w.size, beta1: o.beta1, beta2: o.beta2, eps: o.eps, decay: o.decay, lrMul: o.lrMul }, workgroups: optimWorkgroups(w.size) }];
}

/** acc += src (elementwise over src's elements). */
export function encodeAccumulate(src: TensorRef, acc: TensorRef): Dispatch[] {
  sameShape('accumulate', 'acc', acc, 'src', src);
  return [{ kernel: accumulateKernel(), buffers: [src, acc], params: { n: src.size }, workgroups: optimWorkgroups(src.size) }];
}
