// Optimizer updates and training-step bookkeeping. The step's hyper-parameters (learning rate,
// Adam bias corrections, dropout seed) live in a small storage buffer written before each submit,
// so one recorded step serves every iteration.
import { family, kernel, ro, rw, type Element, type KernelInstance } from './common.js';

export const OPTIM_WG = 64;
export const optimWorkgroups = (n: number): number => Math.ceil(n / OPTIM_WG);

/** Layout of the per-step hyper buffer (f32): written by the host before each step, except `skip`,
 * which the step's loss guard sets when its loss is not finite (the host writes 0). */
export const HYPER = { lr: 0, adamC1: 1, adamC2: 2, seed: 3, step: 4, skip: 5, length: 6 } as const;

const body = (stmt: string) => `
@compute @workgroup_size(${OPTIM_WG})
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = g.x + g.y * nw.x * ${OPTIM_WG}u;
  if (i >= P.n || hyper[${HYPER.skip}] != 0.0) { return; } // a step whose loss is not finite changes nothing
  let lr = hyper[${HYPER.lr}];
  ${stmt}
}`;

/** Elements per invocation of the updates: 4 (vec4 bindings, n counting vec4s) where the
 * parameter's size is a multiple of 4. Memory-bound: on SwiftShader a vec4 copy moves 2.2× the
 * bytes per second of an f32 one (bench baselines), and the reference net's four weight updates
 * took 12.7 ms of a 330 ms step as f32 (Trainer.profile()). */
export type OptimWidth = 1 | 4;
const el = (width: OptimWidth): Element => (width === 4 ? 'vec4<f32>' : 'f32');
const suffix = (width: OptimWidth) => (width === 4 ? '_vec4' : '');

/** SGD with momentum (Caffe/PyTorch form): v = μ·v + (g + λ·w); w -= lr·m·v, m the parameter's lr multiplier. */
const sgdKernel_ = (width: OptimWidth): KernelInstance => kernel(`sgd_momentum${suffix(width)}`,
  [ro('hyper'), ro('grad', el(width)), rw('w', el(width)), rw('v', el(width))], [['n', 'u32'], ['momentum', 'f32'], ['decay', 'f32'], ['lrMul', 'f32']], body(`
  let vi = P.momentum * v[i] + grad[i] + P.decay * w[i];
  v[i] = vi;
  w[i] = w[i] - lr * P.lrMul * vi;`));

/** Adam with bias corrections c1 = 1/(1−β1^t), c2 = 1/(1−β2^t) from the hyper buffer; L2 decay on the gradient. */
const adamKernel_ = (width: OptimWidth): KernelInstance => kernel(`adam${suffix(width)}`,
  [ro('hyper'), ro('grad', el(width)), rw('w', el(width)), rw('m', el(width)), rw('v', el(width))],
  [['n', 'u32'], ['beta1', 'f32'], ['beta2', 'f32'], ['eps', 'f32'], ['decay', 'f32'], ['lrMul', 'f32']], body(`
  let gi = grad[i] + P.decay * w[i];
  let mi = P.beta1 * m[i] + (1.0 - P.beta1) * gi;
  let vi = P.beta2 * v[i] + (1.0 - P.beta2) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  let c1 = hyper[${HYPER.adamC1}];
  let c2 = hyper[${HYPER.adamC2}];
  w[i] = w[i] - lr * P.lrMul * (mi * c1) / (sqrt(vi * c2) + P.eps);`));

/** acc[k] += src[k] for k < n: running sums of loss and correct counts, read back every few steps. */
const accumulateKernel_ = (): KernelInstance => kernel('accumulate',
  [ro('src'), rw('acc')], [['n', 'u32']], `
@compute @workgroup_size(${OPTIM_WG})
fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < P.n) { acc[g.x] = acc[g.x] + src[g.x]; }
}`);

/** The training step's loss guard, between the loss and the updates: a loss that is not finite sets
 * hyper.skip (so no optimizer kernel changes a parameter or its state: the step is dropped, as
 * PyTorch's GradScaler drops a step with non-finite gradients) and, the first time since the host
 * last cleared it, records the step number in firstBad. Finite is tested on the bits (an exponent
 * below all ones): WGSL lets an implementation assume there are no NaNs, so x == x could fold. */
const lossGuardKernel_ = (): KernelInstance => kernel('loss_guard',
  [ro('loss'), rw('hyper'), rw('firstBad')], [], `
@compute @workgroup_size(1)
fn main() {
  if ((bitcast<u32>(loss[0]) & 0x7f800000u) == 0x7f800000u) {
    hyper[${HYPER.skip}] = 1.0;
    if (firstBad[0] == 0.0) { firstBad[0] = hyper[${HYPER.step}]; }
  }
}`);

export const sgdKernel = family('sgd', sgdKernel_);
export const adamKernel = family('adam', adamKernel_);
export const accumulateKernel = family('accumulate', accumulateKernel_);
export const lossGuardKernel = family('loss_guard', lossGuardKernel_);
