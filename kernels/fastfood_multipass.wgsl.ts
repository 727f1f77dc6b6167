// Elementwise stages of Fastfood for rows too long for workgroup memory; the transforms between
// them are the multi-pass FWHT. Every kernel walks a flat index with consecutive invocations on
// consecutive elements. Tensors a1..a5 are [rows, blocks, d]; M = blocks·d.
// With `v4` an invocation takes 4 consecutive elements and moves the contiguous arrays as vec4
// (about twice the bandwidth on SwiftShader). The caller asks for it only where every group of
// 4 lies in one row and on one side of inFeatures / outFeatures (multipassVec4 in src/ops).
import { family, kernel, ro, rw, wgsl, type Element, type KernelInstance } from './common.js';

/** Body run once per element (or per group of 4): `g` is the flat index of its (first) element,
 * `q` the index of its group of 4. */
const flat = (v4: boolean, body: string) => wgsl`
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let q = flatWorkgroup(wid, nwg) * 64u + lid;
#if ${v4}
  let g = q * 4u;
#else
  let g = q;
#endif
  if (g >= P.total) { return; }
${body}
}`;
const DIMS = [['total', 'u32'], ['d', 'u32'], ['blocks', 'u32'], ['inF', 'u32'], ['outF', 'u32']] as const;
const f = (v4: boolean): Element => (v4 ? 'vec4<f32>' : 'f32');
const F = (v4: boolean) => (v4 ? 'vec4f' : 'f32');
/** Element index of a contiguous array at flat index `i` (divisible by 4 with v4). */
const at = (v4: boolean, i: string) => (v4 ? `(${i}) / 4u` : i);
const tag = (v4: boolean) => (v4 ? '_v4' : '');

/** a1[n,k,i] = B[k,i]·x̃[n,i] */
const ffPreKernel_ = (v4 = false): KernelInstance => kernel(`fastfood_mp_pre${tag(v4)}`, [ro('x', f(v4)), ro('B', f(v4)), rw('t', f(v4))], DIMS, flat(v4, `
  let i = g % P.d;
  let n = g / (P.d * P.blocks);
  var v = ${F(v4)}(0.0);
  if (i < P.inF) { v = B[${at(v4, 'g % (P.d * P.blocks)')}] * x[${at(v4, 'n * P.inF + i')}]; }
  t[q] = v;`));

/** a3[n,k,i] = a2[n,k,perm[k,i]]; u = G ⊙ a3 (and a3 kept when training). */
const ffMidKernel_ = (train: boolean, v4 = false): KernelInstance => kernel(`fastfood_mp_mid${train ? '_train' : ''}${tag(v4)}`,
  [ro('t'), ro('G', f(v4)), ro('perm', v4 ? 'vec4<u32>' : 'u32'), rw('u', f(v4)), ...(train ? [rw('a3', f(v4))] : [])], DIMS, flat(v4, wgsl`
  let m = g % (P.d * P.blocks);
  let r = g - g % P.d;
#if ${v4}
  let p = perm[m / 4u];
  let v = vec4f(t[r + p.x], t[r + p.y], t[r + p.z], t[r + p.w]);
#else
  let v = t[r + perm[m]];
#endif
#if ${train}
  a3[q] = v;
#endif
  u[q] = G[${at(v4, 'm')}] * v;`));

/** y[n, m] = S[m]·a5[n, m] for m < outFeatures (total = rows·outFeatures). */
const ffPostKernel_ = (v4 = false): KernelInstance => kernel(`fastfood_mp_post${tag(v4)}`, [ro('a5', f(v4)), ro('S', f(v4)), rw('y', f(v4))], DIMS, flat(v4, `
  let m = g % P.outF;
  let n = g / P.outF;
  y[q] = S[${at(v4, 'm')}] * a5[${at(v4, 'n * P.d * P.blocks + m')}];`));

/** u[n, m] = S[m]·dy[n, m], zero past outFeatures. */
const ffBwdPreKernel_ = (v4 = false): KernelInstance => kernel(`fastfood_mp_bwd_pre${tag(v4)}`, [ro('dy', f(v4)), ro('S', f(v4)), rw('u', f(v4))], DIMS, flat(v4, `
  let M = P.d * P.blocks;
  let m = g % M;
  var v = ${F(v4)}(0.0);
  if (m < P.outF) { v = S[${at(v4, 'm')}] * dy[${at(v4, '(g / M) * P.outF + m')}]; }
  u[q] = v;`));

/** v[n,k,perm[k,i]] = G[k,i]·g4[n,k,i] (Πᵀ as a scatter: perm is a bijection per block). */
const ffBwdMidKernel_ = (v4 = false): KernelInstance => kernel(`fastfood_mp_bwd_mid${tag(v4)}`,
  [ro('g4', f(v4)), ro('G', f(v4)), ro('perm', v4 ? 'vec4<u32>' : 'u32'), rw('v')], DIMS, flat(v4, wgsl`
  let m = g % (P.d * P.blocks);
  let r = g - g % P.d;
#if ${v4}
  let p = perm[m / 4u];
  let s = G[m / 4u] * g4[q];
  v[r + p.x] = s.x; v[r + p.y] = s.y; v[r + p.z] = s.z; v[r + p.w] = s.w;
#else
  v[r + perm[m]] = G[m] * g4[g];
#endif`));

/** dx[n,i] = Σ_k B[k,i]·g1[n,k,i] (total = rows·inFeatures). */
const ffBwdDxKernel_ = (v4 = false): KernelInstance => kernel(`fastfood_mp_bwd_dx${tag(v4)}`, [ro('g1', f(v4)), ro('B', f(v4)), rw('dx', f(v4))], DIMS, flat(v4, `
  let i = g % P.inF;
  let base = (g / P.inF) * P.d * P.blocks + i;
  var s = ${F(v4)}(0.0);
  for (var k = 0u; k < P.blocks; k++) { s += B[${at(v4, 'k * P.d + i')}] * g1[${at(v4, 'base + k * P.d')}]; }
  dx[q] = s;`));

/** out[m] = Σ_n a(n, m)·b(n, m), with z(n, m) = z[n·zRow + m % zMod] where m % zMod < zCols, else 0.
 * With v4, every zRow, zCols and zMod is a multiple of 4. */
const ffColumnDotKernel_ = (v4 = false): KernelInstance => kernel(`fastfood_mp_coldot${tag(v4)}`, [ro('a', f(v4)), ro('b', f(v4)), rw('out', f(v4))],
  [['total', 'u32'], ['rows', 'u32'], ['aRow', 'u32'], ['aCols', 'u32'], ['aMod', 'u32'], ['bRow', 'u32'], ['bCols', 'u32'], ['bMod', 'u32']], flat(v4, `
  let am = g % P.aMod;
  let bm = g % P.bMod;
  var s = ${F(v4)}(0.0);
  if (am < P.aCols && bm < P.bCols) {
    for (var n = 0u; n < P.rows; n++) { s += a[${at(v4, 'n * P.aRow + am')}] * b[${at(v4, 'n * P.bRow + bm')}]; }
  }
  out[q] = s;`));

export const ffPreKernel = family('ffPre', ffPreKernel_);
export const ffMidKernel = family('ffMid', ffMidKernel_);
export const ffPostKernel = family('ffPost', ffPostKernel_);
export const ffBwdPreKernel = family('ffBwdPre', ffBwdPreKernel_);
export const ffBwdMidKernel = family('ffBwdMid', ffBwdMidKernel_);
export const ffBwdDxKernel = family('ffBwdDx', ffBwdDxKernel_);
export const ffColumnDotKernel = family('ffColumnDot', ffColumnDotKernel_);
