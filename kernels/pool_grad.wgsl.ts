// 2-D pooling backward as a gather: one input cell per invocation, summing over the output
// windows that cover it, oh ∈ [ceil((ih + PH - KH + 1) / SH), floor((ih + PH) / SH)] ∩ [0, OH).
// Max: a window's gradient goes to the cell its argmax names. Average: dy / (cells of the window
// inside the input), the exact adjoint of the forward.
// Disjoint variant (stride >= kernel on both axes, e.g. 2×2/2): at most one window covers a cell,
// oh = (ih + PH) / SH when (ih + PH) % SH < KH, so there is no loop (loops with per-lane trip
// counts are slow on SwiftShader). Its Params.total counts invocations, not cells.
import { family, kernel, ro, rw, type KernelInstance } from './common.js';
import { POOL_PARAMS, POOL_WG, tileCell } from './pool.wgsl.js';

const prologue = `
fn firstWindow(i: i32, p: i32, k: i32, s: i32) -> i32 {
  let t = i + p - k + 1;
  return select(0, (t + s - 1) / s, t > 0);
}

@compute @workgroup_size(${POOL_WG})
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = flatWorkgroup(wg, nw) * ${POOL_WG}u + l;
  if (i >= P.total) { return; }
  let iw = i32(i % P.W);
  let ih = i32((i / P.W) % P.H);
  let oplane = (i / (P.W * P.H)) * P.OH * P.OW;
  let ohLo = firstWindow(ih, P.PH, P.KH, P.SH);
  let ohHi = min((ih + P.PH) / P.SH, i32(P.OH) - 1);
  let owLo = firstWindow(iw, P.PW, P.KW, P.SW);
  let owHi = min((iw + P.PW) / P.SW, i32(P.OW) - 1);
  var g = 0.0;`;

export const DISJOINT_CELLS = 4;
/** Invocations of the disjoint variant: one per DISJOINT_CELLS consecutive cells of a row. */
export const disjointInvocations = (planes: number, h: number, w: number): number => planes * h * Math.ceil(w / DISJOINT_CELLS);

// Each invocation takes DISJOINT_CELLS cells of one row, stepping ow and the offset inside the
// stride incrementally: integer division is scalarised per lane on SwiftShader, so it is done once.
const disjoint_ = (cell: string) => `
@compute @workgroup_size(${POOL_WG})
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = flatWorkgroup(wg, nw) * ${POOL_WG}u + l;
  if (i >= P.total) { return; }
  let w4 = (P.W + ${DISJOINT_CELLS - 1}u) / ${DISJOINT_CELLS}u;
  let iw0 = (i % w4) * ${DISJOINT_CELLS}u;
  let rest = i / w4;
  let ih = rest % P.H;
  let plane = rest / P.H;
  let th = ih + u32(P.PH);
  let oh = th / u32(P.SH);
  let rowCovered = th - oh * u32(P.SH) < u32(P.KH) && oh < P.OH;
  let h0 = i32(oh) * P.SH - P.PH;
  let rows = min(h0 + P.KH, i32(P.H)) - max(h0, 0);
  let orow = (plane * P.OH + oh) * P.OW;
  let xrow = (plane * P.H + ih) * P.W;
  let tw = iw0 + u32(P.PW);
  var ow = tw / u32(P.SW);
  var r = tw - ow * u32(P.SW);
  ${Array.from({ length: DISJOINT_CELLS }, (_, e) => `{
    let iw = iw0 + ${e}u;
    if (iw < P.W) {
      var g = 0.0;
      if (rowCovered && r < u32(P.KW) && ow < P.OW) {
        let o = orow + ow;
        ${cell}
      }
      dx[xrow + iw] = g;
    }
    r += 1u;
    if (r == u32(P.SW)) { r = 0u; ow += 1u; }
  }`).join('\n  ')}
}`;

const maxPoolBackwardKernel_ = (disjoint: boolean): KernelInstance => kernel(
  disjoint ? 'max_pool_backward_disjoint' : 'max_pool_backward',
  [ro('dy'), ro('argmax', 'i32'), rw('dx')], POOL_PARAMS, disjoint ? disjoint_(
    'if (argmax[o] == i32(ih * P.W + iw)) { g = dy[o]; }') : `${prologue}
  let me = ih * i32(P.W) + iw;
  for (var oh = ohLo; oh <= ohHi; oh++) {
    for (var ow = owLo; ow <= owHi; ow++) {
      let o = oplane + u32(oh * i32(P.OW) + ow);
      if (argmax[o] == me) { g += dy[o]; }
    }
  }
  dx[i] = g;
}`);

const avgPoolBackwardKernel_ = (disjoint: boolean): KernelInstance => kernel(
  disjoint ? 'avg_pool_backward_disjoint' : 'avg_pool_backward',
  [ro('dy'), rw('dx')], POOL_PARAMS, disjoint ? disjoint_(`let w0 = i32(ow) * P.SW - P.PW;
        g = dy[o] / f32(rows * (min(w0 + P.KW, i32(P.W)) - max(w0, 0)));`) : `${prologue}
  for (var oh = ohLo; oh <= ohHi; oh++) {
    let h0 = oh * P.SH - P.PH;
    let rows = min(h0 + P.KH, i32(P.H)) - max(h0, 0);
    for (var ow = owLo; ow <= owHi; ow++) {
      let w0 = ow * P.SW - P.PW;
      let cols = min(w0 + P.KW, i32(P.W)) - max(w0, 0);
      g += dy[oplane + u32(oh * i32(P.OW) + ow)] / f32(rows * cols);
    }
  }
  dx[i] = g;
}`);

/** Max-pool backward over exact 2×2/2 tiles (maxPool2x2Kernel's geometry): one output cell per
 * invocation writes its window's 4 cells of dx, as two vec2s. The tiles cover dx exactly once,
 * so this scatter is race-free and writes every cell. */
const maxPool2x2BackwardKernel_ = (): KernelInstance => kernel(
  'max_pool_backward_tiles2x2', [ro('dy'), ro('argmax', 'i32'), rw('dx', 'vec2<f32>')], POOL_PARAMS, `${tileCell}
  let g = dy[o];
  let d = u32(argmax[o]) - (2u * oh * P.W + 2u * ow);
  dx[top] = vec2f(select(0.0, g, d == 0u), select(0.0, g, d == 1u));
  dx[top + P.OW] = vec2f(select(0.0, g, d == P.W), select(0.0, g, d == P.W + 1u));
}`);

export const maxPoolBackwardKernel = family('maxPoolBackward', maxPoolBackwardKernel_);
export const avgPoolBackwardKernel = family('avgPoolBackward', avgPoolBackwardKernel_);
export const maxPool2x2BackwardKernel = family('maxPool2x2Backward', maxPool2x2BackwardKernel_);
