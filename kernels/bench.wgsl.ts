// Baseline kernels for the benchmarks: a copy kernel (the adapter's practical memory bandwidth)
// and an FMA loop (its practical arithmetic peak). Every benchmark figure is a fraction of these,
// measured in the same run.
import { family, header, ro, rw, type KernelInstance } from './common.js';

export type CopyVariant = 'f32' | 'vec4';

/** dst[i] = src[i] over n elements of the variant's type; each invocation copies PER elements
 * strided by the workgroup size (lane-contiguous loads and stores). The storage arrays are declared
 * here (not by header()) because the vec4 variant needs array<vec4f>; the binding layout is the same. */
function copyKernel_(variant: CopyVariant, workgroupSize = 64, perThread = 4): KernelInstance {
  const ty = variant === 'vec4' ? 'vec4f' : 'f32';
  const params = [['n', 'u32']] as const;
  const code = header([], params) + `
@group(0) @binding(1) var<storage, read> src: array<${ty}>;
@group(0) @binding(2) var<storage, read_write> dst: array<${ty}>;
override WG: u32 = 64u;
override PER: u32 = 4u;
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let base = flatWorkgroup(w, nw) * WG * PER + l;
  for (var k = 0u; k < PER; k++) {
    let i = base + k * WG;
    if (i < P.n) { dst[i] = src[i]; }
  }
}`;
  return {
    name: `bench_copy_${variant}`, key: '', code, entryPoint: 'main', bindings: [ro('src'), rw('dst')], params,
    constants: { WG: workgroupSize, PER: perThread },
  };
}

export const copyWorkgroups = (n: number, workgroupSize = 64, perThread = 4): number => Math.ceil(n / (workgroupSize * perThread));

export interface FmaVariant {
  /** Independent accumulators per invocation (hides the FMA latency). */
  accumulators: number;
  /** 1: f32 accumulators, 4: vec4f. */
  width: 1 | 4;
  /** 'fma': the fma() builtin; 'muladd': a * m + c (which the driver may or may not contract). */
  form: 'fma' | 'muladd';
}

/** Each invocation runs P.iters iterations of `accumulators` independent FMAs on `width` lanes, then
 * writes their sum (so nothing is dead code). m and c come from the uniform so nothing folds.
 * FMAs per invocation = iters · accumulators · width. */
function fmaKernel_(v: FmaVariant, workgroupSize = 64): KernelInstance {
  const ty = v.width === 4 ? 'vec4f' : 'f32';
  const acc = Array.from({ length: v.accumulators }, (_, k) => k);
  const step = (k: number) => v.form === 'fma' ? `a${k} = fma(a${k}, m, c);` : `a${k} = a${k} * m + c;`;
  const params = [['iters', 'u32'], ['m', 'f32'], ['c', 'f32']] as const;
  const code = header([], params) + `
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
override WG: u32 = 64u;
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let gid = flatWorkgroup(w, nw) * WG + l;
  let m = ${ty}(P.m);
  let c = ${ty}(P.c);
  let seed = f32(gid & 1023u) * 1e-3;
${acc.map((k) => `  var a${k} = ${ty}(seed + ${k}.0);`).join('\n')}
  for (var i = 0u; i < P.iters; i++) {
${acc.map((k) => `    ${step(k)}`).join('\n')}
  }
  let s = ${acc.map((k) => `a${k}`).join(' + ')};
  out[gid] = ${v.width === 4 ? 's.x + s.y + s.z + s.w' : 's'};
}`;
  return {
    name: `bench_fma_${v.form}_${v.width === 4 ? 'vec4' : 'f32'}x${v.accumulators}`, key: '', code, entryPoint: 'main',
    bindings: [rw('out')], params, constants: { WG: workgroupSize },
  };
}

export const copyKernel = family('copy', copyKernel_);
export const fmaKernel = family('fma', fmaKernel_);
