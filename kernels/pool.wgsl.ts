// 2-D pooling forward over NCHW, one output element per invocation. Padded cells are skipped:
// for max they never win (padding is -inf); for average they are left out of the count.
// Max records the first maximum in row-major window order (strict >), as ih*W + iw in its plane.
import { family, kernel, ro, rw, type KernelInstance, type Scalar } from './common.js';

export const POOL_WG = 64;
export const poolWorkgroups = (n: number): number => Math.ceil(n / POOL_WG);

export const POOL_PARAMS: readonly (readonly [string, Scalar])[] = [
  ['total', 'u32'], ['H', 'u32'], ['W', 'u32'], ['OH', 'u32'], ['OW', 'u32'],
  ['KH', 'i32'], ['KW', 'i32'], ['SH', 'i32'], ['SW', 'i32'], ['PH', 'i32'], ['PW', 'i32'],
];

/** Entry point of the kernels that take one output cell o = ((plane·OH + oh)·OW + ow) each. */
const outputCell = `
@compute @workgroup_size(${POOL_WG})
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let o = flatWorkgroup(wg, nw) * ${POOL_WG}u + l;
  if (o >= P.total) { return; }
  let ow = o % P.OW;
  let oh = (o / P.OW) % P.OH;`;

/** outputCell for an exact 2×2/2 tiling, x (or dx) bound as vec2: top is the vec2 index of the
 * window's top row, plane·H·W/2 + 2·oh·W/2 + ow, with plane·OH + oh = o / OW; the bottom row is
 * OW (= W/2) vec2s further. */
export const tileCell = `${outputCell}
  let top = (o / P.OW) * P.W + ow;`;

const prologue = `${outputCell}
  let plane = (o / (P.OW * P.OH)) * P.H * P.W;
  let h0 = i32(oh) * P.SH - P.PH;
  let w0 = i32(ow) * P.SW - P.PW;
  let hLo = max(h0, 0); let hHi = min(h0 + P.KH, i32(P.H));
  let wLo = max(w0, 0); let wHi = min(w0 + P.KW, i32(P.W));`;

/** Small windows are unrolled from TS (kernel size baked into the WGSL, each cell masked);
 * per-lane loop trip counts are slow on SwiftShader. */
export const UNROLL_MAX = 3;
const cells = (window: [number, number] | undefined, stmt: string) => window
  ? Array.from({ length: window[0] * window[1] }, (_, c) => {
    const dh = Math.floor(c / window[1]), dw = c % window[1];
    return `{
    let ih = h0 + ${dh}; let iw = w0 + ${dw};
    if (ih >= 0 && ih < i32(P.H) && iw >= 0 && iw < i32(P.W)) {
      let idx = ih * i32(P.W) + iw;
      ${stmt}
    }
  }`;
  }).join('\n  ')
  : `for (var ih = hLo; ih < hHi; ih++) {
    for (var iw = wLo; iw < wHi; iw++) {
      let idx = ih * i32(P.W) + iw;
      ${stmt}
    }
  }`;

const maxPoolKernel_ = (withArgmax: boolean, window?: [number, number]): KernelInstance => kernel(
  `max_pool${withArgmax ? '_argmax' : ''}${window ? `_${window[0]}x${window[1]}` : ''}`,
  [ro('x'), rw('y'), ...(withArgmax ? [rw('argmax', 'i32')] : [])], POOL_PARAMS, `${prologue}
  var best = 0.0;
  var arg = -1;
  ${cells(window, `let v = x[plane + u32(idx)];
      if (arg < 0 || v > best) { best = v; arg = idx; }`)}
  y[o] = best;
  ${withArgmax ? 'argmax[o] = arg;' : ''}
}`);

const avgPoolKernel_ = (window?: [number, number]): KernelInstance => kernel(
  `avg_pool${window ? `_${window[0]}x${window[1]}` : ''}`, [ro('x'), rw('y')], POOL_PARAMS, `${prologue}
  var s = 0.0;
  ${cells(window, 's += x[plane + u32(idx)];')}
  y[o] = s / f32((hHi - hLo) * (wHi - wLo));
}`);

/** Max pooling over exact 2×2/2 tiles (no padding, H and W even): one output cell per invocation,
 * its two input rows read as vec2 (consecutive invocations read consecutive vec2s: lane-contiguous,
 * where the general kernel's stride-2 reads are scalarised per lane on SwiftShader). Same first-max
 * rule and argmax numbering as maxPoolKernel. */
const maxPool2x2Kernel_ = (withArgmax: boolean): KernelInstance => kernel(
  `max_pool_tiles2x2${withArgmax ? '_argmax' : ''}`,
  [ro('x', 'vec2<f32>'), rw('y'), ...(withArgmax ? [rw('argmax', 'i32')] : [])], POOL_PARAMS, `${tileCell}
  let a = x[top];
  let b = x[top + P.OW];
  var best = a.x;
  var d = 0u;
  if (a.y > best) { best = a.y; d = 1u; }
  if (b.x > best) { best = b.x; d = P.W; }
  if (b.y > best) { best = b.y; d = P.W + 1u; }
  y[o] = best;
  ${withArgmax ? 'argmax[o] = i32(2u * oh * P.W + 2u * ow + d);' : ''}
}`);

export const maxPoolKernel = family('maxPool', maxPoolKernel_);
export const avgPoolKernel = family('avgPool', avgPoolKernel_);
export const maxPool2x2Kernel = family('maxPool2x2', maxPool2x2Kernel_);
