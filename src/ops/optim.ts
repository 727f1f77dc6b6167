// Optimizer updates and the training step's running statistics, as dispatches a compiled graph
// records (the step's learning rate, Adam corrections and dropout seed live in the `hyper` tensor,
// kernels/optim.wgsl.ts HYPER, written before each submit).
import { accumulateKernel, adamKernel, HYPER, lossGuardKernel, optimWorkgroups, sgdKernel } from '../../kernels/optim.wgsl.js';
import { bindingBlocks, sliceRows, type Dispatch, type TensorRef } from '../gpu/runtime.js';
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

/** One update dispatch per block of the parameter that one binding holds (one for any parameter
 * that fits a binding, or when no `limits` are given). */
function update(op: string, kernel: (width: 1 | 4) => Dispatch['kernel'], hyper: TensorRef, ts: TensorRef[], consts: Record<string, number>, limits?: GPUSupportedLimits): Dispatch[] {
  const size = ts[0]!.size;
  const blocks = limits ? bindingBlocks(op, 'grad', limits, size, 1) : [{ first: 0, count: size }];
  return blocks.map(({ first, count }) => {
    const width = count % 4 ? 1 : 4, n = count / width;
    return { kernel: kernel(width), buffers: [hyper, ...ts.map((t) => sliceRows(t, first, count, 1))], params: { n, ...consts }, workgroups: optimWorkgroups(n) };
  });
}

/** v = μ·v + (g + λ·w); w −= lr·lrMul·v (4 elements per invocation where the size allows). With
 * the device's `limits`, a parameter larger than one binding is updated a block at a time. */
export function encodeSgd(hyper: TensorRef, grad: TensorRef, w: TensorRef, v: TensorRef, o: SgdOptions, limits?: GPUSupportedLimits): Dispatch[] {
  for (const [n, t] of [['grad', grad], ['v', v]] as const) sameShape('sgd', n, t, 'w', w);
  return update('sgd', sgdKernel, hyper, [grad, w, v], { momentum: o.momentum, decay: o.decay, lrMul: o.lrMul }, limits);
}

/** Adam with bias corrections from `hyper` and L2 decay on the gradient (blocks as encodeSgd). */
export function encodeAdam(hyper: TensorRef, grad: TensorRef, w: TensorRef, m: TensorRef, v: TensorRef, o: AdamOptions, limits?: GPUSupportedLimits): Dispatch[] {
  for (const [n, t] of [['grad', grad], ['m', m], ['v', v]] as const) sameShape('adam', n, t, 'w', w);
  return update('adam', adamKernel, hyper, [grad, w, m, v], { beta1: o.beta1, beta2: o.beta2, eps: o.eps, decay: o.decay, lrMul: o.lrMul }, limits);
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
