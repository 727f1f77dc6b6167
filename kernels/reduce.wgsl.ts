// Sum over the outer and inner axes of x viewed as [outer, channels, inner]:
// out[c] = Σ_o Σ_i x[(o*channels + c)*inner + i]. Column sum of [R, C] is outer = R, inner = 1;
// a conv bias gradient over NCHW is outer = N, inner = H*W. One invocation per channel.
import { family, kernel, ro, rw, type KernelInstance } from './common.js';

export const REDUCE_WG = 64;
export const reduceWorkgroups = (channels: number): number => Math.ceil(channels / REDUCE_WG);

const channelSumKernel_ = (): KernelInstance => kernel('channel_sum', [ro('x'), rw('out')],
  [['outer', 'u32'], ['channels', 'u32'], ['inner', 'u32']], `
@compute @workgroup_size(${REDUCE_WG})
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let c = flatWorkgroup(w, nw) * ${REDUCE_WG}u + l;
  if (c >= P.channels) { return; }
  var s0 = 0.0; var s1 = 0.0; var s2 = 0.0; var s3 = 0.0;
  for (var o = 0u; o < P.outer; o++) {
    let base = (o * P.channels + c) * P.inner;
    var i = 0u;
    for (; i + 4u <= P.inner; i += 4u) {
      s0 += x[base + i]; s1 += x[base + i + 1u]; s2 += x[base + i + 2u]; s3 += x[base + i + 3u];
    }
    for (; i < P.inner; i++) { s0 += x[base + i]; }
  }
  out[c] = (s0 + s1) + (s2 + s3);
}`);

export const channelSumKernel = family('channelSum', channelSumKernel_);
