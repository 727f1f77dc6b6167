// Device probes the runtime runs once at creation.
import { family, kernel, rw, type KernelInstance } from './common.js';

/** The subgroup kernels (row butterflies, matmul quads) assume that a subgroup's lanes are
 * consecutive local invocation indices, at least `lanes` of them. out[l] = 1 where lane l sees
 * shuffles and quad broadcasts that agree with that layout, else 0. Every subgroup op runs in
 * uniform control flow (no short-circuit before it). */
const subgroupLayoutKernel_ = (workgroupSize: number, lanes: number): KernelInstance => {
  const masks = Array.from({ length: Math.log2(lanes) }, (_, b) => 1 << b);
  const k = kernel('subgroup_layout_probe', [rw('out', 'u32')], [], `
@compute @workgroup_size(${workgroupSize})
fn main(@builtin(local_invocation_index) l: u32, @builtin(subgroup_size) s: u32) {
  var ok = s >= ${lanes}u;
  ${masks.map((m) => `let x${m} = subgroupShuffleXor(l, ${m}u);`).join('\n  ')}
  let q = quadBroadcast(l, 0u);
  ${masks.map((m) => `ok = ok & (x${m} == (l ^ ${m}u));`).join('\n  ')}
  ok = ok & (q == (l & ~3u));
  out[l] = select(0u, 1u, ok);
}`);
  return { ...k, code: `enable subgroups;\n${k.code}` };
};

export const subgroupLayoutKernel = family('subgroupLayout', subgroupLayoutKernel_);
