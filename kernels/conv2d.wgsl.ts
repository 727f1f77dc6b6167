// Tiled implicit-GEMM direct convolution. Each invocation computes a PH×PW block of output pixels
// for TC output channels in unrolled constant-index registers: per input channel it loads the
// block's input footprint once and TC·taps weights, then does PH·PW·TC·taps FMAs. No workgroup
// memory and no barriers (barriers are very costly on SwiftShader; reuse comes from registers).
// The same generator serves conv2d_grad_input (dx is a stride-1 correlation of dy per phase).
import { family, kernel, ro, rw, type KernelInstance } from './common.js';

export const CONV_WG = 64;

export interface ConvTileSpec {
  name: string;
  /** Taps per output pixel (rows, columns). */
  taps: readonly [number, number];
  /** Input step between neighbouring grid pixels. */
  inStride: readonly [number, number];
  /** Output rows, output columns, output channels per invocation. */
  tile: readonly [number, number, number];
  /** The weight of (o, i, tap (ty, tx)) is W[o·Ao + i·Bi + Wb + ty·tapStride[0] + tx·tapStride[1]]. */
  tapStride: readonly [number, number];
  bias: boolean;
  relu: boolean;
}

/** Params: the input [N, I, IH, IW]; the output [N, O, OH, OW] written at
 * (gy·OSy + OOy, gx·OSx + OOx) for grid pixels (gy, gx) < (GH, GW); input row of tap ty is
 * gy·inStride + IOy + ty; weights as in ConvTileSpec.tapStride. */
export const CONV_TILE_PARAMS = [
  ['N', 'u32'], ['I', 'u32'], ['IH', 'i32'], ['IW', 'i32'], ['O', 'u32'], ['OH', 'u32'], ['OW', 'u32'],
  ['GH', 'u32'], ['GW', 'u32'], ['tilesX', 'u32'], ['tilesY', 'u32'], ['total', 'u32'],
  ['OSy', 'u32'], ['OSx', 'u32'], ['OOy', 'u32'], ['OOx', 'u32'], ['IOy', 'i32'], ['IOx', 'i32'],
  ['Ao', 'u32'], ['Bi', 'u32'], ['Wb', 'i32'],
] as const;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function convTileKernel_(s: ConvTileSpec): KernelInstance {
  const [TH, TW] = s.taps, [SY, SX] = s.inStride, [PH, PW, TC] = s.tile;
  const FR = TH ? (PH - 1) * SY + TH : 0, FC = TW ? (PW - 1) * SX + TW : 0;
  const L: string[] = [];
  for (const r of range(FR)) L.push(`  let r${r} = iy0 + ${r}; let rok${r} = r${r} >= 0 && r${r} < P.IH; let ro${r} = r${r} * P.IW;`);
  for (const c of range(FC)) L.push(`  let c${c} = ix0 + ${c}; let cok${c} = c${c} >= 0 && c${c} < P.IW;`);
  for (const c of range(TC)) L.push(`  let wb${c} = i32(min(o0 + ${c}u, P.O - 1u) * P.Ao) + P.Wb;`);
  for (const py of range(PH)) for (const px of range(PW)) for (const c of range(TC)) L.push(`  var a${py}_${px}_${c} = 0.0;`);
  const body: string[] = [];
  if (TH && TW) {
    const used = new Set<string>();
    for (const ty of range(TH)) for (const tx of range(TW)) for (const py of range(PH)) for (const px of range(PW)) used.add(`${py * SY + ty}_${px * SX + tx}`);
    for (const r of range(FR)) for (const c of range(FC)) {
      if (used.has(`${r}_${c}`)) body.push(`    let x${r}_${c} = select(0.0, X[u32(xb + ro${r} + c${c})], rok${r} && cok${c});`);
    }
    for (const ty of range(TH)) for (const tx of range(TW)) {
      for (const c of range(TC)) body.push(`    let w${c}_${ty}_${tx} = W[u32(wb${c} + wi + ${ty * s.tapStride[0] + tx * s.tapStride[1]})];`);
      for (const py of range(PH)) for (const px of range(PW)) for (const c of range(TC)) {
        const a = `a${py}_${px}_${c}`;
        body.push(`    ${a} += x${py * SY + ty}_${px * SX + tx} * w${c}_${ty}_${tx};`);
      }
    }
  }
  const store = (guard: boolean): string => {
    const st: string[] = [];
    for (const c of range(TC)) {
      st.push(guard ? `  { let o = o0 + ${c}u; if (o < P.O) {` : `  { let o = o0 + ${c}u; {`);
      if (s.bias) st.push(`    let bv = BIAS[o];`);
      st.push(`    let ob = (n * P.O + o) * P.OH;`);
      for (const py of range(PH)) {
        st.push(`    let rb${py} = (ob + (gy0 + ${py}u) * P.OSy + P.OOy) * P.OW + gx0 * P.OSx + P.OOx;`);
        for (const px of range(PW)) {
          let v = `a${py}_${px}_${c}`;
          if (s.bias) v = `${v} + bv`;
          if (s.relu) v = `max(${v}, 0.0)`;
          const put = `Y[rb${py} + ${px}u * P.OSx] = ${v};`;
          st.push(guard ? `    if (gy0 + ${py}u < P.GH && gx0 + ${px}u < P.GW) { ${put} }` : `    ${put}`);
        }
      }
      st.push('  } }');
    }
    return st.join('\n');
  };
  const code = `
@compute @workgroup_size(${CONV_WG})
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let gid = flatWorkgroup(wg, nwg) * ${CONV_WG}u + l;
  if (gid >= P.total) { return; }
  let txb = gid % P.tilesX;
  let t1 = gid / P.tilesX;
  let tyb = t1 % P.tilesY;
  let t2 = t1 / P.tilesY;
  let n = t2 % P.N;
  let o0 = (t2 / P.N) * ${TC}u;
  let gy0 = tyb * ${PH}u;
  let gx0 = txb * ${PW}u;
  let iy0 = i32(gy0) * ${SY} + P.IOy;
  let ix0 = i32(gx0) * ${SX} + P.IOx;
${L.join('\n')}
  let plane = P.IH * P.IW;
  var xb = i32(n * P.I) * plane;
  var wi = 0;
  for (var i = 0u; i < P.I; i++) {
${body.join('\n')}
    xb += plane;
    wi += i32(P.Bi);
  }
  if (o0 + ${TC}u <= P.O && gy0 + ${PH}u <= P.GH && gx0 + ${PW}u <= P.GW) {
${store(false)}
  } else {
${store(true)}
  }
}`;
  const bindings = [ro('X'), ro('W'), ...(s.bias ? [ro('BIAS')] : []), rw('Y')];
  return kernel(s.name, bindings, CONV_TILE_PARAMS, code);
}

/** Output channels per invocation: the largest t in [max/2, max] that pads O by at most 1/8
 * (a bigger tile loads less per FMA: MNIST conv2, 20→50, 4×8 pixels × 4 channels with 2 padded
 * channels ran 1.5× faster than × 2 with none), else the one that pads least. */
export function channelTile(O: number, max: number): number {
  if (O <= max) return O;
  const padded = (t: number) => Math.ceil(O / t) * t;
  let best = max;
  for (let t = max; t >= Math.ceil(max / 2); t--) {
    if (padded(t) * 8 <= O * 9) return t;
    if (padded(t) < padded(best)) best = t;
  }
  return best;
}

export interface ConvTileGeometry {
  N: number; I: number; IH: number; IW: number; O: number; OH: number; OW: number;
  GH: number; GW: number; OSy: number; OSx: number; OOy: number; OOx: number; IOy: number; IOx: number;
  Ao: number; Bi: number; Wb: number;
}

/** Params and workgroup count of one convTileKernel dispatch. */
export function convTileLaunch(tile: readonly [number, number, number], g: ConvTileGeometry): { params: Record<string, number>; workgroups: number; total: number } {
  const [PH, PW, TC] = tile;
  const tilesX = Math.ceil(g.GW / PW), tilesY = Math.ceil(g.GH / PH);
  const total = tilesX * tilesY * g.N * Math.ceil(g.O / TC);
  const params = { ...g, tilesX, tilesY, total };
  return { params, workgroups: Math.ceil(total / CONV_WG), total };
}

export const convTileKernel = family('convTile', convTileKernel_);
