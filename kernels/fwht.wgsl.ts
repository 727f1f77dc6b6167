// Walsh–Hadamard transform kernels, generated unrolled from TS.
//
// A row of d = 2^k values is spread over T invocations holding R = d/T values each, in private
// registers with constant indices (dynamically indexed private arrays are very slow on CPU
// drivers such as SwiftShader; unrolled code is also what compiles to butterflies in registers on
// a GPU). H is a product of commuting butterflies, one per index bit. A phase maps the R
// registers of an invocation to log2 R consecutive index bits starting at `lo`:
//   i = (t mod 2^lo) + j·2^lo + (t div 2^lo)·2^(lo + log2 R)
// Phase 0 (lo = k − log2 R, "layout S": i = j·T + t) has lane-contiguous global loads and stores;
// the last phase (lo = 0, "layout C": i = t·R + j) is contiguous per invocation. A transform runs
// the phases S → C (or C → S), moving the row through workgroup memory between phases, which
// costs one barrier each: an invocation writes exactly the locations it read in the previous
// phase, so no one can still be reading them. Rows of d ≤ 32 are one invocation each (T = 1).
//
// Subgroups: where the adapter has them (RowTuning.lanes = its minimum subgroup size Q), the low
// log2 Q bits of t are lanes of one subgroup (Q consecutive invocations, as on every
// implementation we know), and the index bits they carry in the current phase are butterflied
// with subgroupShuffleXor, without workgroup memory. A plan uses them only where that skips a
// phase (one transpose and barrier fewer); the row then ends in whichever layout its last phase
// has (RowCode.end), which the kernels read and write in.
import { family, kernel, ro, rw, wgsl, type KernelInstance } from './common.js';

export interface RowGeometry {
  d: number;
  k: number;
  /** invocations per row */
  T: number;
  /** values per invocation */
  R: number;
  /** rows processed side by side by one workgroup (T = 1 only) */
  L: number;
  lr: number;
  /** lowest index bit held in registers, per phase (first = k − lr, last = 0) */
  los: number[];
}

/** How a row kernel is generated (chosen per adapter in src/ops/fwht.ts). */
export interface RowTuning {
  /** Values per invocation: trades barriers (one per phase) against registers. */
  maxRegisters: number;
  /** XOR-swizzled workgroup-memory addresses (GPU bank conflicts). */
  swizzle: boolean;
  /** Subgroup lanes to butterfly across (the adapter's minimum subgroup size; 0: no subgroups). */
  lanes: number;
}

export const GPU_ROWS: RowTuning = { maxRegisters: 32, swizzle: true, lanes: 0 };

/** One phase of a transform: its layout, the register bits (relative to lo) and the bits of t
 * (lanes) it butterflies. */
export interface HPhase { lo: number; regs: number[]; lanes: number[] }

/** The phases of H in direction `dir`: each index bit butterflied once, by registers or (where it
 * skips a phase) by subgroup lanes. */
export function hadamardPlan(g: RowGeometry, dir: Dir, lanes: number): HPhase[] {
  const { los, lr, k, T } = g;
  // the index bits each phase owns, as in the plain scheme
  const own = los.map((lo, p) => Array.from({ length: Math.min(lr, (p ? los[p - 1]! : k) - lo) }, (_, m) => lo + m));
  const order = los.map((lo, p) => ({ lo, bits: own[p]! }));
  if (dir === 'CS') order.reverse();
  const q = lanes > 1 && T > 1 ? Math.log2(Math.min(lanes, T)) : 0;
  const build = (useLanes: boolean): HPhase[] => {
    const done = new Set<number>(), out: HPhase[] = [];
    for (const { lo, bits } of order) {
      const regs = bits.filter((b) => !done.has(b));
      if (!regs.length) continue;
      regs.forEach((b) => done.add(b));
      const ph: HPhase = { lo, regs: regs.map((b) => b - lo), lanes: [] };
      if (useLanes) {
        for (let b = 0; b < q; b++) {
          const bit = b < lo ? b : b + lr; // index bit that bit b of t carries in this layout
          if (bit < k && !done.has(bit)) { done.add(bit); ph.lanes.push(b); }
        }
      }
      out.push(ph);
    }
    return out;
  };
  const plain = build(false), withLanes = q ? build(true) : plain;
  return withLanes.length < plain.length ? withLanes : plain;
}

export function rowGeometry(d: number, tuning: Pick<RowTuning, 'maxRegisters'> = GPU_ROWS): RowGeometry {
  const k = Math.round(Math.log2(d));
  if (2 ** k !== d || k < 1) throw new Error(`deepfried: rowGeometry: d = ${d} is not a power of two ≥ 2`);
  if (k <= 5) return { d, k, T: 1, R: d, L: Math.min(64, 512 / d), lr: k, los: [0] };
  // T ≤ 256, the WebGPU default of maxComputeInvocationsPerWorkgroup
  const lr = Math.min(k, Math.max(k - 8, Math.round(Math.log2(tuning.maxRegisters))));
  const los: number[] = [];
  for (let lo = k - lr; ; lo -= lr) { los.push(Math.max(0, lo)); if (lo <= 0) break; }
  return { d, k, T: 2 ** (k - lr), R: 2 ** lr, L: 1, lr, los };
}

export type Dir = 'SC' | 'CS';

/** WGSL snippets shared by the FWHT and Fastfood generators. */
export class RowCode {
  /** `swizzle`: XOR the low 5 bits of workgroup-memory addresses with the next 5, so that the
   * strided layouts do not all hit one of 32 memory banks on a GPU (CPU adapters skip it: it
   * breaks their lane-contiguous access). */
  /** The phases of H in each direction (hadamardPlan). */
  readonly plans: Readonly<Record<Dir, HPhase[]>>;
  constructor(readonly g: RowGeometry, readonly swizzle = false, readonly lanes = 0) {
    this.plans = { SC: hadamardPlan(g, 'SC', lanes), CS: hadamardPlan(g, 'CS', lanes) };
  }
  /** Workgroup-memory address of row-relative (or slot-based) index `i`. */
  at(i: string): string { return this.swizzle ? `sw(${i})` : i; }
  swFn(): string { return this.swizzle ? 'fn sw(i: u32) -> u32 { return i ^ ((i >> 5u) & 31u); }' : ''; }
  get js(): number[] { return Array.from({ length: this.g.R }, (_, j) => j); }
  get S(): number { return this.g.los[0]!; }
  get C(): number { return 0; }
  /** Row-relative index of register j in the phase whose lowest register bit is `lo`. */
  idx(lo: number, j: number): string {
    if (this.g.T === 1) return `${j}u`;
    return `(tb${lo} + ${j << lo}u)`;
  }
  /** Per-invocation bases of every phase layout. */
  bases(): string {
    if (this.g.T === 1) return '';
    const mask = (lo: number) => 2 ** lo - 1;
    const { k, lr } = this.g;
    return [...new Set([...this.g.los, 0])].map((lo) => `let tb${lo} = ${lo === k - lr ? 't'
      : lo === 0 ? `t << ${lr}u` : `(t & ${mask(lo)}u) | ((t >> ${lo}u) << ${lo + lr}u)`};`).join('\n');
  }
  decl(name: string, type = 'f32', init = type === 'u32' ? '0u' : '0.0'): string {
    return this.js.map((j) => `var ${name}${j}: ${type} = ${init};`).join('\n');
  }
  each(f: (j: number) => string): string {
    return this.js.map(f).join('\n');
  }
  /** Butterflies of register array `r` over register-index bits `bits`. */
  bfly(r: string, bits: readonly number[]): string {
    const out: string[] = [];
    for (const m of bits) {
      for (const j of this.js) {
        if (j & (1 << m)) continue;
        const a = `${r}${j}`, b = `${r}${j | (1 << m)}`;
        out.push(`{ let u = ${a}; let v = ${b}; ${a} = u + v; ${b} = u - v; }`);
      }
    }
    return out.join('\n');
  }
  /** Whether layout C can move registers 4 at a time (vec4 global loads and stores). */
  get vec(): boolean { return this.g.T > 1 && this.g.R % 4 === 0; }
  /** vec4f of registers j…j+3 of r (or of value(j)…value(j+3)). */
  vec4Of(r: string, j: number, value = (i: number) => `${r}${i}`): string {
    return `vec4f(${[0, 1, 2, 3].map((q) => value(j + q)).join(', ')})`;
  }
  /** Statements over the groups of 4 consecutive registers of layout C. */
  quads(f: (j: number) => string): string {
    return this.js.filter((j) => j % 4 === 0).map(f).join('\n');
  }
  barrier(): string { return this.g.T > 1 ? 'workgroupBarrier();' : ''; }
  /** Registers r (phase `from`) → workgroup memory → registers r (phase `to`). */
  transpose(r: string, sh: string, from: number, to: number): string {
    if (this.g.T === 1 || from === to) return '';
    return `${this.each((j) => `${sh}[${this.at(this.idx(from, j))}] = ${r}${j};`)}\nworkgroupBarrier();\n` +
      this.each((j) => `${r}${j} = ${sh}[${this.at(this.idx(to, j))}];`);
  }
  plan(dir: Dir): HPhase[] { return this.plans[dir]; }
  /** Layout (lo) a transform in direction `dir` starts in, and the one it ends in. */
  start(dir: Dir): number { return this.plan(dir)[0]!.lo; }
  end(dir: Dir): number { return this.plan(dir).at(-1)!.lo; }
  /** Transposes (workgroup-memory round trips, one barrier each) of a transform. */
  transposes(dir: Dir): number { return this.plan(dir).length - 1; }
  /** Whether some transform of this row butterflies across subgroup lanes (needs `enable subgroups;`). */
  get usesSubgroups(): boolean { return (['SC', 'CS'] as const).some((d) => this.plan(d).some((p) => p.lanes.length > 0)); }
  /** Butterflies of register array `r` across the subgroup lanes holding bit `b` of t. */
  laneBfly(r: string, bits: readonly number[]): string {
    return bits.map((b) => this.each((j) =>
      `{ let v = subgroupShuffleXor(${r}${j}, ${1 << b}u); ${r}${j} = select(${r}${j} + v, v - ${r}${j}, (t & ${1 << b}u) != 0u); }`)).join('\n');
  }
  /** H of a row held in registers r, from layout start(dir) to end(dir): S → C ('SC') or back ('CS')
   * when no subgroup lanes shorten the plan. */
  hadamard(r: string, sh: string, dir: Dir): string {
    const phases = this.plan(dir), out: string[] = [];
    phases.forEach((ph, i) => {
      if (i) out.push(this.transpose(r, sh, phases[i - 1]!.lo, ph.lo));
      out.push(this.bfly(r, ph.regs), this.laneBfly(r, ph.lanes));
    });
    return out.join('\n');
  }
  /** Invocation-local prelude: t (position in the row), the shared-memory slot base sb, layout bases. */
  prelude(): string {
    const { T, d } = this.g;
    return (T === 1 ? `let s = lid; let t = 0u; let sb = lid * ${d}u;` : `let s = 0u; let t = lid; let sb = 0u;`) + '\n' + this.bases();
  }
  get wgSize(): number { return this.g.T * this.g.L; }
  /** Shared array length (one row per slot). */
  get shLen(): number { return this.g.d * this.g.L; }
  get tag(): string { return `d${this.g.d}_r${this.g.R}${this.swizzle ? '_swz' : ''}${this.usesSubgroups ? `_sg${this.lanes}` : ''}`; }
  /** The kernel's code with `enable subgroups;` first when it shuffles. */
  enable(k: KernelInstance): KernelInstance { return this.usesSubgroups ? { ...k, code: `enable subgroups;\n${k.code}` } : k; }
}

/** In-workgroup FWHT of rows of length d ≤ maxComputeWorkgroupStorageSize/4: y = scale·H·x. */
function fwhtRowsKernel_(d: number, tuning: RowTuning = GPU_ROWS): KernelInstance {
  const g = rowGeometry(d, tuning), c = new RowCode(g, tuning.swizzle, tuning.lanes);
  const uniformRow = g.T > 1, st = c.start('SC'), en = c.end('SC'), useSh = c.transposes('SC') > 0;
  // A row ending in layout C is stored as vec4s (a quarter of the store instructions); any other
  // end layout is stored as it is, without a transpose back.
  const vecOut = c.vec && en === 0;
  // The next row's first transpose writes layout `st`: others may still be reading this row's last
  // layout there unless it is the same one.
  const rowBarrier = useSh && en !== st;
  const body = wgsl`
#if ${useSh}
var<workgroup> sh: array<f32, ${c.shLen}>;
${c.swFn()}
#endif

@compute @workgroup_size(${c.wgSize})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let w = flatWorkgroup(wid, nwg);
  ${c.prelude()}
  ${c.decl('r')}
  for (var it = 0u; it < P.rpw; it++) {
    let row = (w * P.rpw + it) * ${g.L}u + s;
#if ${uniformRow}
    if (row >= P.rows) { break; }
#else
    if (row < P.rows) {
#endif
    let base = row * ${d}u;
    ${c.each((j) => `r${j} = x[base + ${c.idx(st, j)}];`)}
    ${c.hadamard('r', 'sh', 'SC')}
#if ${vecOut}
    ${c.quads((j) => `y[(base + ${c.idx(0, j)}) / 4u] = P.scale * ${c.vec4Of('r', j)};`)}
#else
    ${c.each((j) => `y[base + ${c.idx(en, j)}] = P.scale * r${j};`)}
#endif
#if ${rowBarrier}
    workgroupBarrier();
#endif
#if ${!uniformRow}
    }
#endif
  }
}`;
  return c.enable(kernel(`fwht_rows_${c.tag}${vecOut ? '_v4' : ''}`, [ro('x'), rw('y', vecOut ? 'vec4<f32>' : 'f32')], [['rows', 'u32'], ['rpw', 'u32'], ['scale', 'f32']], body));
}

const GLOBAL_WG = 64;
/** Workgroups of the global pass for `count` butterfly groups (rows·d / 2^r). */
export const fwhtGlobalWorkgroups = (count: number): number => Math.ceil(count / GLOBAL_WG);

/** One global radix-2^r pass of a long FWHT: butterflies over index bits [lo, lo + r) of rows of
 * length d, in place; consecutive invocations take consecutive low indices (lane-contiguous). */
function fwhtGlobalKernel_(r: number, lo: number, d: number): KernelInstance {
  const R = 2 ** r, stride = 2 ** lo, c = new RowCode({ d: R, k: r, T: 1, R, L: 1, lr: r, los: [0] });
  const body = `
@compute @workgroup_size(${GLOBAL_WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let q = flatWorkgroup(wid, nwg) * ${GLOBAL_WG}u + lid;
  if (q >= P.count) { return; }
  let low = q % ${stride}u;
  let hi = (q / ${stride}u) % ${d / (R * stride)}u;
  let row = q / ${d / R}u;
  let base = row * ${d}u + hi * ${R * stride}u + low;
  ${c.decl('r')}
  ${c.each((j) => `r${j} = y[base + ${j * stride}u];`)}
  ${c.bfly('r', c.js.slice(0, r))}
  ${c.each((j) => `y[base + ${j * stride}u] = P.scale * r${j};`)}
}`;
  return kernel(`fwht_global_d${d}_bits${lo}_${lo + r}`, [rw('y')], [['count', 'u32'], ['scale', 'f32']], body);
}

export const fwhtRowsKernel = family('fwhtRows', fwhtRowsKernel_);
export const fwhtGlobalKernel = family('fwhtGlobal', fwhtGlobalKernel_);
