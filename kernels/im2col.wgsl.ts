// The data movement of conv2d's backward as matrix products (src/ops/conv2d.ts):
//   dw[co, j] = Σ_q dyT[co, q]·col[j, q]      dyT = dy as [Cout, N·Ho·Wo]   (matmul 'nt')
//   cg[j, q]  = Σ_co w[co, j]·dyT[co, q]       dx  = col2im(cg)               (matmul 'tn')
// with j = (ci·kh + ky)·kw + kx over the filter taps and q = (n·Ho + ho)·Wo + wo over the output
// pixels, and col[j, q] = x[n, ci, ho·sh + ky − ph, wo·sw + kx − pw] (0 outside the input).
// Every kernel here gives consecutive invocations consecutive pixels (wo or w), so that global
// loads and stores are lane-contiguous (what a CPU adapter vectorises and a GPU coalesces); the
// kh·kw taps are unrolled from TS and the channel loop is the only loop.
import { family, kernel, ro, rw, type KernelInstance } from './common.js';

export const IM2COL_WG = 64;

export interface ConvTaps { kh: number; kw: number; sh: number; sw: number }

const GEOMETRY = [
  ['N', 'u32'], ['Cin', 'u32'], ['H', 'i32'], ['W', 'i32'], ['Ho', 'u32'], ['Wo', 'u32'], ['ph', 'i32'], ['pw', 'i32'],
] as const;

const taps = (t: ConvTaps, f: (ky: number, kx: number) => string): string => {
  const out: string[] = [];
  for (let ky = 0; ky < t.kh; ky++) for (let kx = 0; kx < t.kw; kx++) out.push(f(ky, kx));
  return out.join('\n');
};

const entry = `@compute @workgroup_size(${IM2COL_WG})
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u)`;

/** col [Cin·kh·kw, N·Ho·Wo] from x [N, Cin, H, W]; one invocation per output pixel q. */
function im2colKernel_(t: ConvTaps): KernelInstance {
  const body = `
${entry} {
  let q = flatWorkgroup(wg, nwg) * ${IM2COL_WG}u + l;
  let Q = P.N * P.Ho * P.Wo;
  if (q >= Q) { return; }
  let wo = q % P.Wo;
  let nh = q / P.Wo;
  let ho = nh % P.Ho;
  let n = nh / P.Ho;
  let h0 = i32(ho) * ${t.sh} - P.ph;
  let w0 = i32(wo) * ${t.sw} - P.pw;
${taps(t, (ky, kx) => `  let ok${ky}_${kx} = h0 + ${ky} >= 0 && h0 + ${ky} < P.H && w0 + ${kx} >= 0 && w0 + ${kx} < P.W;
  let at${ky}_${kx} = select(0, (h0 + ${ky}) * P.W + w0 + ${kx}, ok${ky}_${kx});`)}
  for (var ci = 0u; ci < P.Cin; ci++) {
    let xb = i32((n * P.Cin + ci) * u32(P.H * P.W));
    let jb = ci * ${t.kh * t.kw}u;
${taps(t, (ky, kx) => `    col[(jb + ${ky * t.kw + kx}u) * Q + q] = select(0.0, x[u32(xb + at${ky}_${kx})], ok${ky}_${kx});`)}
  }
}`;
  return kernel(`im2col_k${t.kh}x${t.kw}_s${t.sh}x${t.sw}`, [ro('x'), rw('col')], GEOMETRY, body);
}

/** dx [N, Cin, H, W] = Σ over the taps of cg [Cin·kh·kw, N·Ho·Wo] that read each input pixel (the
 * adjoint of im2col, as a gather); one invocation per input pixel (n, h, w). */
function col2imKernel_(t: ConvTaps): KernelInstance {
  const cond = (axis: 'h' | 'w', k: number) => {
    const [s, o, lim] = axis === 'h' ? [t.sh, 'P.ph', 'P.Ho'] : [t.sw, 'P.pw', 'P.Wo'];
    const v = `(${axis} + ${o} - ${k})`;
    return s === 1
      ? { ok: `${v} >= 0 && ${v} < i32(${lim})`, at: v }
      : { ok: `${v} >= 0 && ${v} % ${s} == 0 && ${v} / ${s} < i32(${lim})`, at: `${v} / ${s}` };
  };
  const body = `
${entry} {
  let p = flatWorkgroup(wg, nwg) * ${IM2COL_WG}u + l;
  let HW = u32(P.H * P.W);
  if (p >= P.N * HW) { return; }
  let w = i32(p % u32(P.W));
  let h = i32((p / u32(P.W)) % u32(P.H));
  let n = p / HW;
  let Q = P.N * P.Ho * P.Wo;
  let qn = n * P.Ho * P.Wo;
${taps(t, (ky, kx) => {
    const a = cond('h', ky), b = cond('w', kx);
    return `  let ok${ky}_${kx} = ${a.ok} && ${b.ok};
  let at${ky}_${kx} = select(0u, qn + u32(${a.at}) * P.Wo + u32(${b.at}), ok${ky}_${kx});`;
  })}
  for (var ci = 0u; ci < P.Cin; ci++) {
    let jb = ci * ${t.kh * t.kw}u;
    var s = 0.0;
${taps(t, (ky, kx) => `    s += select(0.0, cg[(jb + ${ky * t.kw + kx}u) * Q + at${ky}_${kx}], ok${ky}_${kx});`)}
    dx[(n * P.Cin + ci) * HW + p % HW] = s;
  }
}`;
  return kernel(`col2im_k${t.kh}x${t.kw}_s${t.sh}x${t.sw}`, [ro('cg'), rw('dx')], GEOMETRY, body);
}

/** out [B, A, C] = x [A, B, C] (dy [N, Cout, Ho·Wo] → dyT [Cout, N·Ho·Wo]); one invocation per element. */
function swapLeadingKernel_(): KernelInstance {
  const body = `
${entry} {
  let i = flatWorkgroup(wg, nwg) * ${IM2COL_WG}u + l;
  if (i >= P.A * P.B * P.C) { return; }
  let c = i % P.C;
  let ab = i / P.C;
  let b = ab % P.B;
  let a = ab / P.B;
  y[(b * P.A + a) * P.C + c] = x[i];
}`;
  return kernel('swap_leading_axes', [ro('x'), rw('y')], [['A', 'u32'], ['B', 'u32'], ['C', 'u32']], body);
}

export const im2colKernel = family('im2col', im2colKernel_);
export const col2imKernel = family('col2im', col2imKernel_);
export const swapLeadingKernel = family('swapLeading', swapLeadingKernel_);
