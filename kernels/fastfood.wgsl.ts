// Fused Adaptive Fastfood for rows that fit workgroup memory (DESIGN.md §4), generated unrolled.
// Layouts S and C and the butterfly split are those of fwht.wgsl.ts. A workgroup takes `rpw`
// consecutive rows; the block loop is outermost so B, G, S and perm of a block are loaded into
// registers once and reused for every row (B, S in layout S; G, perm in layout C).
// A transpose reads back exactly the locations its own invocation wrote in the previous phase,
// which is what lets several phases share one workgroup array with one barrier each.
import { family, kernel, ro, rw, wgsl, type KernelInstance } from './common.js';
import { GPU_ROWS, RowCode, rowGeometry, type RowTuning } from './fwht.wgsl.js';

const PARAMS = [['rows', 'u32'], ['rpw', 'u32'], ['inF', 'u32'], ['outF', 'u32'], ['blocks', 'u32']] as const;

/** Whether to use two row-sized arrays (saves a barrier per row). Only for short rows: Dawn
 * zero-initialises workgroup memory, which SwiftShader compiles at ~1.4 ms per element. */
const pingPong = (d: number, L: number, storage: number) => 2 * d * L * 4 <= Math.min(storage, PING_PONG_BYTES);

const PING_PONG_BYTES = 8192;

const entry = (c: RowCode) => `@compute @workgroup_size(${c.wgSize})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u)`;

/** Row loop head/tail: uniform `break` when the workgroup holds one row at a time (barriers
 * inside), a per-invocation guard when each invocation owns a row (no barriers). */
const rowLoop = (c: RowCode, body: string) => c.g.T > 1
  ? `for (var it = 0u; it < P.rpw; it++) {\n  let row = w * P.rpw + it;\n  if (row >= P.rows) { break; }\n${body}\n}`
  : `for (var it = 0u; it < P.rpw; it++) {\n  let row = (w * P.rpw + it) * ${c.g.L}u + s;\n  if (row < P.rows) {\n${body}\n  }\n}`;

/** Workgroup rows (a second buffer when ping-ponging) and the zero-padded load of x. */
const rowDecls = (c: RowCode, pp: boolean, vecX = false) => wgsl`
var<workgroup> sh: array<f32, ${c.shLen}>;
${c.swFn()}
#if ${pp}
var<workgroup> sh2: array<f32, ${c.shLen}>;
#endif
#if ${vecX}
fn ldx4(i: u32, base: u32) -> vec4f {
  if (i < P.inF) { return x[(base + i) / 4u]; }
  return vec4f(0.0);
}
#else
fn ldx(i: u32, base: u32) -> f32 {
  if (i < P.inF) { return x[base + i]; }
  return 0.0;
}
#endif
`;

/** Which row arrays move as vec4 (the row lengths must be multiples of 4; the kernel also needs
 * layout C to hold groups of 4, RowCode.vec). */
export interface FastfoodIo { vecX: boolean; vecY: boolean }

/** y = Fastfood(x); with `train`, also a3 and a5 as [rows, blocks, d].
 * Layouts: x is read in layout C (vec4 loads), H·B·x̃ runs C → S and is stored to workgroup memory
 * in layout S (lane-contiguous), the permutation gathers it back in layout S, and H·G·Π… runs
 * S → C, so that y and a5 leave in layout C (vec4 stores). Each H costs one transpose. */
function fastfoodForwardKernel_(d: number, train: boolean, storage: number, tuning: RowTuning = GPU_ROWS,
  io: FastfoodIo = { vecX: false, vecY: false }): KernelInstance {
  const g = rowGeometry(d, tuning), c = new RowCode(g, tuning.swizzle, tuning.lanes), pp = pingPong(d, g.L, storage);
  // H·B·x̃ ends in layout e1, H·G·Π… in e2 (C and S unless subgroup lanes shorten the plans)
  const e1 = c.end('CS'), e2 = c.end('SC'), t1 = c.transposes('CS'), t2 = c.transposes('SC');
  const vx = io.vecX && c.vec, vy = io.vecY && c.vec && e2 === 0, va = train && c.vec && e2 === 0;
  const sh2 = pp ? 'sh2' : 'sh';
  const C = (j: number) => c.idx(c.C, j), S = (j: number) => c.idx(c.S, j), E1 = (j: number) => c.idx(e1, j), E2 = (j: number) => c.idx(e2, j);
  // Before the next row writes sh (its first transpose, or the store of H·B·x̃ when it has none),
  // everyone must be done reading this row's sh: H·G·Π…'s barrier sees to it with ping-pong, the
  // barrier after the gather without, unless the last read was in another layout.
  const rowBarrier = g.T > 1 && (pp ? t2 === 0 : t2 > 0 && e2 !== (t1 > 0 ? 0 : e1));
  const body = wgsl`
${rowDecls(c, pp, vx)}
${entry(c)} {
  let w = flatWorkgroup(wid, nwg);
  ${c.prelude()}
  ${c.decl('r')}
  ${c.decl('b')}
  ${c.decl('gg')}
  ${c.decl('ss')}
  ${c.decl('pm', 'u32')}
  for (var k = 0u; k < P.blocks; k++) {
    let o = k * ${d}u;
    ${c.each((j) => `b${j} = B[o + ${C(j)}]; ss${j} = S[o + ${E2(j)}];`)}
    ${c.each((j) => `gg${j} = G[o + ${S(j)}]; pm${j} = ${c.at(`sb + perm[o + ${S(j)}]`)};`)}
    ${rowLoop(c, wgsl`
    let xb = row * P.inF;
#if ${vx}
    ${c.quads((j) => `{ let v = ldx4(${C(j)}, xb); ${[0, 1, 2, 3].map((k) => `r${j + k} = b${j + k} * v[${k}];`).join(' ')} }`)}
#else
    ${c.each((j) => `r${j} = b${j} * ldx(${C(j)}, xb);`)}
#endif
    ${c.hadamard('r', 'sh', 'CS')}
    ${c.each((j) => `sh[${c.at(`sb + ${E1(j)}`)}] = r${j};`)}
    ${c.barrier()}
    ${c.each((j) => `r${j} = sh[pm${j}];`)}
    let ab = (row * P.blocks + k) * ${d}u;
#if ${train}
    ${c.each((j) => `a3[ab + ${S(j)}] = r${j};`)}
#endif
    ${c.each((j) => `r${j} *= gg${j};`)}
#if ${!pp}
    ${c.barrier()}
#endif
    ${c.hadamard('r', sh2, 'SC')}
#if ${va}
    ${c.quads((j) => `a5[(ab + ${C(j)}) / 4u] = ${c.vec4Of('r', j)};`)}
#elif ${train}
    ${c.each((j) => `a5[ab + ${E2(j)}] = r${j};`)}
#endif
    let yb = row * P.outF + o;
#if ${vy}
    ${c.quads((j) => `if (o + ${C(j)} < P.outF) { y[(yb + ${C(j)}) / 4u] = ${c.vec4Of('r', j, (k) => `ss${k} * r${k}`)}; }`)}
#else
    ${c.each((j) => `if (o + ${E2(j)} < P.outF) { y[yb + ${E2(j)}] = ss${j} * r${j}; }`)}
#endif
#if ${rowBarrier}
    workgroupBarrier();
#endif`)}
  }
}`;
  const v4 = 'vec4<f32>' as const;
  const bindings = [ro('x', vx ? v4 : 'f32'), ro('B'), ro('G'), ro('S'), ro('perm', 'u32'), rw('y', vy ? v4 : 'f32'),
    ...(train ? [rw('a3'), rw('a5', va ? v4 : 'f32')] : [])];
  const tag = `${c.tag}${pp ? '' : '_1buf'}${vx ? '_vx' : ''}${vy ? '_vy' : ''}`;
  return c.enable(kernel(`fastfood_fwd${train ? '_train' : ''}_${tag}`, bindings, PARAMS, body));
}

/** Inference forward for rows twice as long as workgroup memory (d = 2·D, D floats fit): each
 * invocation holds both halves of its sub-row positions (registers r, u), H_d = H_2 ⊗ H_D is H_D
 * on each half through the shared array in turn, then the top-bit butterfly in registers; the
 * permutation gathers from one half of the row at a time (two rounds, a select in the second).
 * One pass over memory instead of the multi-pass path's seven. */
function fastfoodForwardSplitKernel_(d: number, storage: number, tuning: RowTuning = GPU_ROWS,
  io: FastfoodIo = { vecX: false, vecY: false }): KernelInstance {
  const D = d / 2;
  if (D * 4 > storage) throw new Error(`deepfried: fastfoodForwardSplitKernel: half a row (${D} floats) does not fit ${storage} bytes of workgroup memory`);
  const g = rowGeometry(D, tuning), c = new RowCode(g, tuning.swizzle, tuning.lanes);
  if (g.T === 1) throw new Error(`deepfried: fastfoodForwardSplitKernel: d = ${d} is too short for split rows`);
  const e1 = c.end('CS'), e2 = c.end('SC');
  const vx = io.vecX && c.vec, vy = io.vecY && c.vec && e2 === 0;
  const C = (j: number) => c.idx(c.C, j), S = (j: number) => c.idx(c.S, j), E1 = (j: number) => c.idx(e1, j), E2 = (j: number) => c.idx(e2, j);
  const top = (a: string, b: string) => c.each((j) => `{ let p = ${a}${j}; let q = ${b}${j}; ${a}${j} = p + q; ${b}${j} = p - q; }`);
  const half = (pm: string) => c.at(`(${pm} & ${D - 1}u)`);
  const body = wgsl`
${rowDecls(c, false, vx)}
${entry(c)} {
  let w = flatWorkgroup(wid, nwg);
  ${c.prelude()}
  ${c.decl('r')}
  ${c.decl('uh')}
  ${c.decl('v')}
  ${c.decl('b')}
  ${c.decl('bh')}
  ${c.decl('gg')}
  ${c.decl('ggh')}
  ${c.decl('ss')}
  ${c.decl('ssh')}
  ${c.decl('pm', 'u32')}
  ${c.decl('pmh', 'u32')}
  for (var k = 0u; k < P.blocks; k++) {
    let o = k * ${d}u;
    let oh = o + ${D}u;
    ${c.each((j) => `b${j} = B[o + ${C(j)}]; bh${j} = B[oh + ${C(j)}]; ss${j} = S[o + ${E2(j)}]; ssh${j} = S[oh + ${E2(j)}];`)}
    ${c.each((j) => `gg${j} = G[o + ${S(j)}]; ggh${j} = G[oh + ${S(j)}]; pm${j} = perm[o + ${S(j)}]; pmh${j} = perm[oh + ${S(j)}];`)}
    ${rowLoop(c, wgsl`
    let xb = row * P.inF;
#if ${vx}
    ${c.quads((j) => `{ let v0 = ldx4(${C(j)}, xb); let v1 = ldx4(${D}u + ${C(j)}, xb); ${[0, 1, 2, 3].map((q) => `r${j + q} = b${j + q} * v0[${q}]; uh${j + q} = bh${j + q} * v1[${q}];`).join(' ')} }`)}
#else
    ${c.each((j) => `r${j} = b${j} * ldx(${C(j)}, xb); uh${j} = bh${j} * ldx(${D}u + ${C(j)}, xb);`)}
#endif
    ${c.hadamard('r', 'sh', 'CS')}
    workgroupBarrier();
    ${c.hadamard('uh', 'sh', 'CS')}
    ${top('r', 'uh')}
    workgroupBarrier();
    ${c.each((j) => `sh[${c.at(E1(j))}] = r${j};`)}
    workgroupBarrier();
    ${c.each((j) => `r${j} = sh[${half(`pm${j}`)}]; v${j} = sh[${half(`pmh${j}`)}];`)}
    workgroupBarrier();
    ${c.each((j) => `sh[${c.at(E1(j))}] = uh${j};`)}
    workgroupBarrier();
    ${c.each((j) => `r${j} = gg${j} * select(r${j}, sh[${half(`pm${j}`)}], pm${j} >= ${D}u); v${j} = ggh${j} * select(v${j}, sh[${half(`pmh${j}`)}], pmh${j} >= ${D}u);`)}
    workgroupBarrier();
    ${c.hadamard('r', 'sh', 'SC')}
    workgroupBarrier();
    ${c.hadamard('v', 'sh', 'SC')}
    ${top('r', 'v')}
    let yb = row * P.outF + o;
#if ${vy}
    ${c.quads((j) => `if (o + ${C(j)} < P.outF) { y[(yb + ${C(j)}) / 4u] = ${c.vec4Of('r', j, (q) => `ss${q} * r${q}`)}; }
    if (oh + ${C(j)} < P.outF) { y[(yb + ${D}u + ${C(j)}) / 4u] = ${c.vec4Of('v', j, (q) => `ssh${q} * v${q}`)}; }`)}
#else
    ${c.each((j) => `if (o + ${E2(j)} < P.outF) { y[yb + ${E2(j)}] = ss${j} * r${j}; }
    if (oh + ${E2(j)} < P.outF) { y[yb + ${D}u + ${E2(j)}] = ssh${j} * v${j}; }`)}
#endif
    workgroupBarrier();`)}
  }
}`;
  const v4 = 'vec4<f32>' as const;
  const bindings = [ro('x', vx ? v4 : 'f32'), ro('B'), ro('G'), ro('S'), ro('perm', 'u32'), rw('y', vy ? v4 : 'f32')];
  return c.enable(kernel(`fastfood_fwd_split_d${d}_${c.tag}${vx ? '_vx' : ''}${vy ? '_vy' : ''}`, bindings, PARAMS, body));
}

/** Backward of one workgroup's rows: dx (optional) and per-workgroup partial sums of dB, dG, dS
 * in part [3, workgroups, blocks·d], reduced by fastfoodReduceKernel. */
function fastfoodBackwardKernel_(d: number, withDx: boolean, storage: number, tuning: RowTuning = GPU_ROWS): KernelInstance {
  const g = rowGeometry(d, tuning), c = new RowCode(g, tuning.swizzle, tuning.lanes), pp = pingPong(d, g.L, storage);
  const sh2 = pp ? 'sh2' : 'sh';
  // Hᵀ·Sᵀ·dy ends in layout e1, the second H in e2 (C and S unless subgroup lanes shorten the plans)
  const e1 = c.end('SC'), e2 = c.end('CS'), t1 = c.transposes('SC'), t2 = c.transposes('CS');
  const S = (j: number) => c.idx(c.S, j), C = (j: number) => c.idx(c.C, j), E1 = (j: number) => c.idx(e1, j), E2 = (j: number) => c.idx(e2, j);
  // The scatter writes anywhere in sh2: everyone must be done with it (this row's first transform
  // without ping-pong; the previous row's second one, which the first's barrier covers if it has one).
  const scatterBarrier = g.T > 1 && (!pp || t1 === 0);
  // Without ping-pong the next row's first transpose writes sh in layout S.
  const rowBarrier = g.T > 1 && !pp && t1 > 0 && (t2 > 0 ? e2 : 0) !== c.S;
  const body = wgsl`
${rowDecls(c, pp)}
fn ldg(i: u32, base: u32) -> f32 {
  if (i < P.outF) { return dy[base + i]; }
  return 0.0;
}
${entry(c)} {
  let w = flatWorkgroup(wid, nwg);
  if (w >= P.nwg) { return; }
  let nw = P.nwg;
  ${c.prelude()}
  ${c.decl('r')}
  ${c.decl('q')}
  ${c.decl('b')}
  ${c.decl('gg')}
  ${c.decl('ss')}
  ${c.decl('pm', 'u32')}
  ${c.decl('dB')}
  ${c.decl('dG')}
  ${c.decl('dS')}
  let M = P.blocks * ${d}u;
  for (var k = 0u; k < P.blocks; k++) {
    let o = k * ${d}u;
    ${c.each((j) => `b${j} = B[o + ${E2(j)}]; ss${j} = S[o + ${S(j)}]; dB${j} = 0.0; dS${j} = 0.0;`)}
    ${c.each((j) => `gg${j} = G[o + ${E1(j)}]; pm${j} = ${c.at(`sb + perm[o + ${E1(j)}]`)}; dG${j} = 0.0;`)}
    ${rowLoop(c, wgsl`
    let ab = (row * P.blocks + k) * ${d}u;
    let gb = row * P.outF;
    ${c.each((j) => `q${j} = ldg(o + ${S(j)}, gb); dS${j} += q${j} * a5[ab + ${S(j)}]; r${j} = ss${j} * q${j};`)}
    ${c.hadamard('r', 'sh', 'SC')}
    ${c.each((j) => `dG${j} += r${j} * a3[ab + ${E1(j)}];`)}
#if ${scatterBarrier}
    workgroupBarrier();
#endif
    ${c.each((j) => `${sh2}[pm${j}] = gg${j} * r${j};`)}
    ${c.barrier()}
    ${c.each((j) => `r${j} = ${sh2}[${c.at(`sb + ${C(j)}`)}];`)}
    ${c.hadamard('r', sh2, 'CS')}
    let xb = row * P.inF;
    ${c.each((j) => `dB${j} += r${j} * ldx(${E2(j)}, xb);`)}
#if ${withDx}
    ${c.each((j) => `{ let i = ${E2(j)}; if (i < P.inF) { var v = b${j} * r${j}; if (k > 0u) { v += dx[xb + i]; } dx[xb + i] = v; } }`)}
#endif
#if ${rowBarrier}
    workgroupBarrier();
#endif`)}
    let pb = (w * ${g.L}u + s) * M + o;
    let pn = nw * ${g.L}u * M;
    ${c.each((j) => `part[pb + ${E2(j)}] = dB${j}; part[2u * pn + pb + ${S(j)}] = dS${j};`)}
    ${c.each((j) => `part[pn + pb + ${E1(j)}] = dG${j};`)}
  }
}`;
  const bindings = [ro('x'), ro('B'), ro('G'), ro('S'), ro('perm', 'u32'), ro('dy'), ro('a3'), ro('a5'), rw('part'), ...(withDx ? [rw('dx')] : [])];
  return c.enable(kernel(`fastfood_bwd${withDx ? '' : '_nodx'}_${c.tag}${pp ? '' : '_1buf'}`, bindings, [...PARAMS, ['nwg', 'u32']], body));
}

const REDUCE_WG = 64;
/** Workgroups of fastfoodReduceKernel for M = blocks·d sums. */
export const fastfoodReduceWorkgroups = (M: number): number => Math.ceil(M / REDUCE_WG);

/** dB, dG, dS [M] = Σ over the `parts` leading rows of part [3, parts, M]. */
function fastfoodReduceKernel_(): KernelInstance {
  const body = `
@compute @workgroup_size(${REDUCE_WG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let m = flatWorkgroup(wid, nwg) * ${REDUCE_WG}u + lid;
  if (m >= P.M) { return; }
  var s0 = 0.0; var s1 = 0.0; var s2 = 0.0;
  let n = P.parts * P.M;
  for (var p = 0u; p < P.parts; p++) {
    let i = p * P.M + m;
    s0 += part[i]; s1 += part[n + i]; s2 += part[2u * n + i];
  }
  dB[m] = s0; dG[m] = s1; dS[m] = s2;
}`;
  return kernel('fastfood_reduce', [ro('part'), rw('dB'), rw('dG'), rw('dS')], [['M', 'u32'], ['parts', 'u32']], body);
}

export const fastfoodForwardKernel = family('fastfoodForward', fastfoodForwardKernel_);
export const fastfoodForwardSplitKernel = family('fastfoodForwardSplit', fastfoodForwardSplitKernel_);
export const fastfoodBackwardKernel = family('fastfoodBackward', fastfoodBackwardKernel_);
export const fastfoodReduceKernel = family('fastfoodReduce', fastfoodReduceKernel_);
