// Elementwise stages of Fastfood for rows too long for workgroup memory; the transforms between
// them are the multi-pass FWHT. Every kernel walks a flat index with consecutive invocations on
// consecutive elements. Tensors a1..a5 are [rows, blocks, d]; M = blocks·d.
import { kernel, ro, rw, wgsl, type KernelInstance } from './common.js';

const flat = (body: string) => `
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = flatWorkgroup(wid, nwg) * 64u + lid;
  if (g >= P.total) { return; }
${body}
}`;
const DIMS = [['total', 'u32'], ['d', 'u32'], ['blocks', 'u32'], ['inF', 'u32'], ['outF', 'u32']] as const;

/** a1[n,k,i] = B[k,i]·x̃[n,i] */
export const ffPreKernel = (): KernelInstance => kernel('fastfood_mp_pre', [ro('x'), ro('B'), rw('t')], DIMS, flat(`
  let i = g % P.d;
  let n = g / (P.d * P.blocks);
  var v = 0.0;
  if (i < P.inF) { v = B[g % (P.d * P.blocks)] * x[n * P.inF + i]; }
  t[g] = v;`));

/** a3[n,k,i] = a2[n,k,perm[k,i]]; u = G ⊙ a3 (and a3 kept when training). */
export const ffMidKernel = (train: boolean): KernelInstance => kernel(`fastfood_mp_mid${train ? '_train' : ''}`,
  [ro('t'), ro('G'), ro('perm', 'u32'), rw('u'), ...(train ? [rw('a3')] : [])], DIMS, flat(wgsl`
  let m = g % (P.d * P.blocks);
  let v = t[g - g % P.d + perm[m]];
#if ${train}
  a3[g] = v;
#endif
  u[g] = G[m] * v;`));

/** y[n, m] = S[m]·a5[n, m] for m < outFeatures (total = rows·outFeatures). */
export const ffPostKernel = (): KernelInstance => kernel('fastfood_mp_post', [ro('a5'), ro('S'), rw('y')], DIMS, flat(`
  let m = g % P.outF;
  let n = g / P.outF;
  y[g] = S[m] * a5[n * P.d * P.blocks + m];`));

/** u[n, m] = S[m]·dy[n, m], zero past outFeatures. */
export const ffBwdPreKernel = (): KernelInstance => kernel('fastfood_mp_bwd_pre', [ro('dy'), ro('S'), rw('u')], DIMS, flat(`
  let M = P.d * P.blocks;
  let m = g % M;
  var v = 0.0;
  if (m < P.outF) { v = S[m] * dy[(g / M) * P.outF + m]; }
  u[g] = v;`));

/** v[n,k,perm[k,i]] = G[k,i]·g4[n,k,i] (Πᵀ as a scatter: perm is a bijection per block). */
export const ffBwdMidKernel = (): KernelInstance => kernel('fastfood_mp_bwd_mid', [ro('g4'), ro('G'), ro('perm', 'u32'), rw('v')], DIMS, flat(`
  let m = g % (P.d * P.blocks);
  v[g - g % P.d + perm[m]] = G[m] * g4[g];`));

/** dx[n,i] = Σ_k B[k,i]·g1[n,k,i] (total = rows·inFeatures). */
export const ffBwdDxKernel = (): KernelInstance => kernel('fastfood_mp_bwd_dx', [ro('g1'), ro('B'), rw('dx')], DIMS, flat(`
  let i = g % P.inF;
  let base = (g / P.inF) * P.d * P.blocks + i;
  var s = 0.0;
  for (var k = 0u; k < P.blocks; k++) { s += B[k * P.d + i] * g1[base + k * P.d]; }
  dx[g] = s;`));

/** out[m] = Σ_n a(n, m)·b(n, m), with z(n, m) = z[n·zRow + m % zMod] where m % zMod < zCols, else 0. */
export const ffColumnDotKernel = (): KernelInstance => kernel('fastfood_mp_coldot', [ro('a'), ro('b'), rw('out')],
  [['total', 'u32'], ['rows', 'u32'], ['aRow', 'u32'], ['aCols', 'u32'], ['aMod', 'u32'], ['bRow', 'u32'], ['bCols', 'u32'], ['bMod', 'u32']], flat(`
  let am = g % P.aMod;
  let bm = g % P.bMod;
  var s = 0.0;
  if (am < P.aCols && bm < P.bCols) {
    for (var n = 0u; n < P.rows; n++) { s += a[n * P.aRow + am] * b[n * P.bRow + bm]; }
  }
  out[g] = s;`));
