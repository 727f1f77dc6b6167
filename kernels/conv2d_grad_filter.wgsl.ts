// dw and db of conv2d: a reduction over the N·Ho·Wo output pixels. Each invocation owns TCo output
// channels × TCi input channels × KY kernel rows × kw kernel columns of dw in registers and walks a
// slice of the N·Ho output rows PW pixels at a time: per step it loads TCo·PW dy values and the
// TCi·KY input-row footprints, then does TCo·TCi·KY·kw·PW FMAs. Slices (split-K) write partials that
// a second dispatch sums; with one slice it writes dw and db directly. db rides along on the
// invocations of input-channel block 0 and kernel-row block 0 (the dy values are already loaded).
import { family, kernel, ro, rw, type KernelInstance } from './common.js';

export const CONV_DW_WG = 64;

export interface ConvGradFilterSpec {
  kh: number; kw: number; sh: number; sw: number;
  /** TCo, TCi, KY, PW */
  tile: readonly [number, number, number, number];
}

export const CONV_DW_PARAMS = [
  ['N', 'u32'], ['Cin', 'u32'], ['H', 'i32'], ['W', 'i32'], ['Cout', 'u32'], ['Ho', 'u32'], ['Wo', 'u32'],
  ['ph', 'i32'], ['pw', 'i32'], ['kyBlocks', 'u32'], ['ciBlocks', 'u32'], ['coBlocks', 'u32'], ['total', 'u32'],
  ['rowsPerSplit', 'u32'], ['rows', 'u32'],
] as const;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function convGradFilterKernel_(s: ConvGradFilterSpec): KernelInstance {
  const { kh, kw, sh, sw } = s;
  const [TCo, TCi, KY, PW] = s.tile;
  const FC = (PW - 1) * sw + kw;
  const pre: string[] = [], row: string[] = [], step: string[] = [], store: string[] = [];
  for (const c of range(TCo)) pre.push(`  let cc${c} = min(co0 + ${c}u, P.Cout - 1u);`);
  for (const c of range(TCi)) pre.push(`  let ic${c} = min(ci0 + ${c}u, P.Cin - 1u);`);
  for (const o of range(TCo)) {
    pre.push(`  var s${o} = 0.0;`);
    for (const i of range(TCi)) for (const k of range(KY)) for (const x of range(kw)) pre.push(`  var d${o}_${i}_${k}_${x} = 0.0;`);
  }
  for (const o of range(TCo)) row.push(`    let dyb${o} = i32(((n * P.Cout + cc${o}) * P.Ho + ho) * P.Wo);`);
  for (const k of range(KY)) {
    row.push(`    let hi${k} = i32(ho) * ${sh} - P.ph + i32(ky0 + ${k}u); let rok${k} = hi${k} >= 0 && hi${k} < P.H;`);
    for (const i of range(TCi)) row.push(`    let xr${i}_${k} = (i32(n * P.Cin + ic${i}) * P.H + hi${k}) * P.W;`);
  }
  for (const p of range(PW)) step.push(`      let pok${p} = wo0 + ${p}u < P.Wo;`);
  for (const o of range(TCo)) for (const p of range(PW)) {
    step.push(`      let g${o}_${p} = select(0.0, DY[u32(dyb${o} + i32(wo0) + ${p})], pok${p});`);
  }
  for (const f of range(FC)) step.push(`      let wc${f} = i32(wo0) * ${sw} - P.pw + ${f}; let cok${f} = wc${f} >= 0 && wc${f} < P.W;`);
  const used = new Set<number>();
  for (const p of range(PW)) for (const x of range(kw)) used.add(p * sw + x);
  for (const i of range(TCi)) for (const k of range(KY)) for (const f of range(FC)) {
    if (used.has(f)) step.push(`      let x${i}_${k}_${f} = select(0.0, X[u32(xr${i}_${k} + wc${f})], rok${k} && cok${f});`);
  }
  for (const o of range(TCo)) {
    step.push(`      s${o} += ${range(PW).map((p) => `g${o}_${p}`).join(' + ')};`);
    for (const i of range(TCi)) for (const k of range(KY)) for (const x of range(kw)) for (const p of range(PW)) {
      step.push(`      d${o}_${i}_${k}_${x} += g${o}_${p} * x${i}_${k}_${p * sw + x};`);
    }
  }
  store.push('  let part = split * P.Cout * P.Cin;');
  for (const o of range(TCo)) {
    store.push(`  if (co0 + ${o}u < P.Cout) {`);
    store.push(`    if (ci0 == 0u && ky0 == 0u) { DB[split * P.Cout + co0 + ${o}u] = s${o}; }`);
    for (const i of range(TCi)) {
      store.push(`    if (ci0 + ${i}u < P.Cin) {`);
      store.push(`      let b = (part + (co0 + ${o}u) * P.Cin + ci0 + ${i}u) * ${kh * kw}u;`);
      for (const k of range(KY)) {
        const cond = KY * Math.ceil(kh / KY) === kh ? '' : `if (ky0 + ${k}u < ${kh}u) `;
        store.push(`      ${cond}{ ${range(kw).map((x) => `DW[b + (ky0 + ${k}u) * ${kw}u + ${x}u] = d${o}_${i}_${k}_${x};`).join(' ')} }`);
      }
      store.push('    }');
    }
    store.push('  }');
  }
  const code = `
@compute @workgroup_size(${CONV_DW_WG})
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let gid = flatWorkgroup(wg, nwg) * ${CONV_DW_WG}u + l;
  if (gid >= P.total) { return; }
  let ky0 = (gid % P.kyBlocks) * ${KY}u;
  let t1 = gid / P.kyBlocks;
  let ci0 = (t1 % P.ciBlocks) * ${TCi}u;
  let t2 = t1 / P.ciBlocks;
  let co0 = (t2 % P.coBlocks) * ${TCo}u;
  let split = t2 / P.coBlocks;
  let r0 = split * P.rowsPerSplit;
  let r1 = min(r0 + P.rowsPerSplit, P.rows);
${pre.join('\n')}
  for (var r = r0; r < r1; r++) {
    let n = r / P.Ho;
    let ho = r % P.Ho;
${row.join('\n')}
    for (var wo0 = 0u; wo0 < P.Wo; wo0 += ${PW}u) {
${step.join('\n')}
    }
  }
${store.join('\n')}
}`;
  return kernel(`conv2d_grad_filter_k${kh}x${kw}_s${sh}x${sw}_t${s.tile.join('x')}`, [ro('X'), ro('DY'), rw('DW'), rw('DB')], CONV_DW_PARAMS, code);
}

export const SUM_SPLITS_WG = 64;

/** out[i] = Σ_s part[s·n + i] */
const sumSplitsKernel_ = (): KernelInstance => kernel('conv2d_sum_splits', [ro('PART'), rw('OUT')], [['n', 'u32'], ['splits', 'u32']], `
@compute @workgroup_size(${SUM_SPLITS_WG})
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatWorkgroup(wg, nwg) * ${SUM_SPLITS_WG}u + l;
  if (i >= P.n) { return; }
  var acc = 0.0;
  for (var s = 0u; s < P.splits; s++) { acc += PART[s * P.n + i]; }
  OUT[i] = acc;
}`);

export const convGradFilterKernel = family('convGradFilter', convGradFilterKernel_);
export const sumSplitsKernel = family('sumSplits', sumSplitsKernel_);
