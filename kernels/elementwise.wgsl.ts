// Elementwise kernels. Each invocation handles 4 consecutive elements (lane-contiguous access).
import { family, kernel, ro, rw, type KernelInstance } from './common.js';

export const ELEMENTWISE_WG = 64;
const PER_THREAD = 4;
export const elementwiseWorkgroups = (n: number): number => Math.ceil(n / (ELEMENTWISE_WG * PER_THREAD));

const loop = (stmt: string) => `
@compute @workgroup_size(${ELEMENTWISE_WG})
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let base = flatWorkgroup(w, nw) * ${ELEMENTWISE_WG * PER_THREAD}u + l;
  for (var k = 0u; k < ${PER_THREAD}u; k++) {
    let i = base + k * ${ELEMENTWISE_WG}u;
    if (i < P.n) { ${stmt} }
  }
}`;

/** y = max(x, 0) */
const reluKernel_ = (): KernelInstance =>
  kernel('relu', [ro('x'), rw('y')], [['n', 'u32']], loop('y[i] = max(x[i], 0.0);'));

/** dx = dy where x > 0, else 0 */
const reluBackwardKernel_ = (): KernelInstance =>
  kernel('relu_backward', [ro('x'), ro('dy'), rw('dx')], [['n', 'u32']], loop('dx[i] = select(0.0, dy[i], x[i] > 0.0);'));

// Inverted dropout: keep element i with probability 1−p, scaled by 1/(1−p). The mask is a hash of
// (seed, i), so the backward pass regenerates it instead of storing it.
const dropoutMask = `
fn keep(i: u32) -> bool {
  var h = (i * 0x9e3779b9u) ^ (u32(hyper[3]) * 0x85ebca6bu);
  h = (h ^ (h >> 16u)) * 0x7feb352du;
  h = (h ^ (h >> 15u)) * 0x846ca68bu;
  h = h ^ (h >> 16u);
  return f32(h >> 8u) * (1.0 / 16777216.0) >= P.p;
}`;

/** y = keep ? x/(1−p) : 0 (and the backward with x := dy). `hyper[3]` holds the step's seed, an integer below 2^24. */
const dropoutKernel_ = (): KernelInstance =>
  kernel('dropout', [ro('hyper'), ro('x'), rw('y')], [['n', 'u32'], ['p', 'f32']],
    dropoutMask + loop('y[i] = select(0.0, x[i] / (1.0 - P.p), keep(i));'));

export const reluKernel = family('relu', reluKernel_);
export const reluBackwardKernel = family('reluBackward', reluBackwardKernel_);
export const dropoutKernel = family('dropout', dropoutKernel_);
