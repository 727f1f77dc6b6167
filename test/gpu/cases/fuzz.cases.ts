// Fuzzing against the float64 references (issue 15, item 1): seeded random checks in three families.
//  1. Legal random problems of every op, forward and backward (fwht, fastfood, conv2d, max/avg pool,
//     linear, relu, softmax cross-entropy), through the eager API, against src/reference/*.ts with
//     the tolerances of the op's own cases file.
//  2. Small random Sequential models whose compiled training step (SGD with momentum and weight
//     decay, or Adam; an lr schedule; dropout) equals the same step done with the eager ops plus the
//     float64 optimizer references (src/reference/optim.ts).
//  3. Illegal arguments (wrong ranks, shapes and dtypes, non-finite data, disposed tensors, another
//     runtime's tensors, non-permutations, sizes over the device's limits): each call throws an
//     Error naming the argument, leaves no buffer in use, and the runtime then computes the legal
//     problem it was made from correctly.
//
// Replay. Every problem is drawn from (seed, family, index) alone, whatever the count, and a failure
// names all three and the whole problem as JSON: "fuzz seed 1 conv2d case 17: {...}: dw: element 3
// is ...". In Node (the Chrome page has no process.env: it always runs the defaults):
//   DEEPFRIED_FUZZ_SEED=1 DEEPFRIED_FUZZ_CASE=17 npx vitest run test/gpu/node.test.ts -t 'fuzz: conv2d'
// DEEPFRIED_FUZZ_CASE=<i> runs only index i of each family; DEEPFRIED_FUZZ=<count> sets how many
// problems are checked per runtime (default 150, split as in `plan` below); DEEPFRIED_FUZZ_SEED=<n>
// the seed (default 1, so CI is deterministic); DEEPFRIED_FUZZ_TRACE=1 logs each problem with its
// time and pipeline compiles; DEEPFRIED_FUZZ_WIDE=1 also draws what shapes the kernels freely (see
// WIDE; slow).
import { createRuntime, type Runtime } from '../../../src/api.js';
import type { Tensor, TypedArray } from '../../../src/gpu/runtime.js';
import { AvgPool2d, Conv2d, Dropout, Fastfood, Flatten, Linear, MaxPool2d, ReLU, type LayerConfig, type Param } from '../../../src/nn/layers.js';
import { Sequential } from '../../../src/nn/model.js';
import { compileTrainer, invSchedule, type OptimizerConfig } from '../../../src/nn/trainer.js';
import { encodeDropout } from '../../../src/ops/elementwise.js';
import type { FastfoodParams, PoolOptions } from '../../../src/ops/types.js';
import { conv2dBackwardRef, conv2dRef, convOut, type ConvGeometry } from '../../../src/reference/conv2d.js';
import { reluBackwardRef, reluRef } from '../../../src/reference/elementwise.js';
import { fastfoodBackwardRef, fastfoodRef, type FastfoodRefParams } from '../../../src/reference/fastfood.js';
import { fwhtInPlace, fwhtRef } from '../../../src/reference/fwht.js';
import { linearBackwardRef, linearRef } from '../../../src/reference/linear.js';
import { adamRef, sgdRef } from '../../../src/reference/optim.js';
import { avgPoolBackwardRef, avgPoolRef, maxPoolBackwardRef, maxPoolRef, poolOutShape, type PoolRefGeometry } from '../../../src/reference/pool.js';
import { correctRef, softmaxXentBackwardRef, softmaxXentRef } from '../../../src/reference/softmax_xent.js';
import { expectClose, expectEqual, randn, rng, type GpuCase, type Tolerance } from '../harness.js';
import { poolInput, poolSums } from './pool.cases.js';

// ------------------------------------------------------------------ configuration and replay
const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
function envInt(name: string, dflt: number): number {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}
const SEED = envInt('DEEPFRIED_FUZZ_SEED', 1);
const COUNT = envInt('DEEPFRIED_FUZZ', 150);
const TRACE = Boolean(env.DEEPFRIED_FUZZ_TRACE);
/** Draws what shapes the kernels (d, taps, strides, tiles, vec4 flags) freely too: many more
 * pipelines to compile (minutes on SwiftShader), for hunting bugs rather than for CI. */
const WIDE = Boolean(env.DEEPFRIED_FUZZ_WIDE);
const ONLY = env.DEEPFRIED_FUZZ_CASE === undefined || env.DEEPFRIED_FUZZ_CASE === '' ? undefined : envInt('DEEPFRIED_FUZZ_CASE', 0);

type OpFamily = 'fwht' | 'fastfood' | 'conv2d' | 'pool' | 'linear' | 'relu' | 'softmax';
const OP_SHARE: Record<OpFamily, number> = { fwht: 15, fastfood: 19, conv2d: 19, pool: 15, linear: 13, relu: 6, softmax: 13 };
/** How COUNT splits: a fifth illegal calls, one model (two checked training steps) per 25, the rest op problems. */
const plan = (() => {
  const models = COUNT ? Math.max(1, Math.round(COUNT / 25)) : 0;
  const illegal = Math.round(COUNT / 5);
  const ops = Math.max(0, COUNT - 2 * models - illegal);
  const per = {} as Record<OpFamily, number>;
  for (const [f, s] of Object.entries(OP_SHARE) as [OpFamily, number][]) per[f] = ops ? Math.max(1, Math.round((ops * s) / 100)) : 0;
  return { models, illegal, per };
})();

type Rand = () => number;
/** An integer in [lo, hi]. */
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const chance = (r: Rand, p: number): boolean => r() < p;
/** FNV-1a over the words, then a final avalanche: the seed of one problem. */
function mix(...xs: number[]): number {
  let h = 2166136261;
  for (const x of xs) h = Math.imul(h ^ (x >>> 0), 16777619) >>> 0;
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b) >>> 0; h ^= h >>> 13;
  return h >>> 0;
}
const familyId = (f: string): number => [...f].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 31) >>> 0, 7);

/** Runs `check` on problem `gen(r)` for each index, r seeded by (SEED, family, index); a failure
 * names the seed, the index and the problem. */
async function fuzz<P>(rt: Runtime, family: string, count: number, gen: (r: Rand, i: number) => P, check: (p: P) => Promise<void>): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (ONLY !== undefined && i !== ONLY) continue;
    let p: P | undefined;
    try {
      p = gen(rng(mix(SEED, familyId(family), i)), i);
      const [t0, c0] = [performance.now(), rt.compiles];
      await check(p);
      if (TRACE) console.log(`fuzz ${family} ${i}: ${(performance.now() - t0).toFixed(0)} ms, ${rt.compiles - c0} compiles: ${JSON.stringify(p)}`);
    } catch (e) {
      throw new Error(`fuzz seed ${SEED} ${family} case ${i}: ${JSON.stringify(p)}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

// ------------------------------------------------------------------ helpers shared by the checks
const U = 2 ** -24;
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const rms = (v: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! ** 2;
  return Math.sqrt(s / Math.max(1, v.length));
};
const exact: Tolerance = { atol: 0, rtol: 0 };

/** Disposes every tensor in a (nested) result. */
function disposeAll(v: unknown): void {
  if (v && typeof v === 'object' && 'dispose' in v && typeof (v as Tensor).dispose === 'function') (v as Tensor).dispose();
  else if (Array.isArray(v)) v.forEach(disposeAll);
  else if (v && typeof v === 'object') Object.values(v).forEach(disposeAll);
}
/** Queues `build` in rt.tidy (its inputs are freed), runs `check` on what it returns, then frees that. */
async function scoped<T>(rt: Runtime, build: () => T, check: (out: T) => Promise<void>): Promise<void> {
  const out = rt.tidy(build);
  try {
    await check(out);
  } finally {
    disposeAll(out);
  }
}
const read = async (t: Tensor) => (await t.read()) as Float32Array;

// ------------------------------------------------------------------ 1. legal op problems
// Kernel variants cost a pipeline compile each (0.05–0.3 s on an idle SwiftShader, seconds on a
// busy one), so what changes the WGSL (fwht's d, a fused Fastfood row's d and vec4 flags, conv taps,
// strides and output tiles, matmul tiles and vec4 flags) is drawn from small sets below, and what
// only changes uniforms (batch, rows, sizes, padding, inFeatures, outFeatures, blocks) freely. Most
// of these variants are ones the other cases compile too, so in a full run they are cached.

// fwht: tolerance of fwht.cases.ts
interface FwhtProblem { shape: number[]; scale?: number; seed: number }
// (d = 2^16 is an 8192-long row kernel and global passes; rows of 4096 are left out: that row kernel
// alone compiles for ~18 s in Chrome here, and no other case needs it)
const FWHT_D = [2, 4, 8, 16, 64, 1024, 8192, 65536];
function genFwht(r: Rand): FwhtProblem {
  const d = WIDE ? 2 ** int(r, 1, 16) : pick(r, FWHT_D);
  const rows = d >= 4096 ? int(r, 1, 2) : pick(r, [1, 1, 2, 3, 5, 7, 9, 13]);
  const shape = rows > 3 && rows % 2 === 1 && chance(r, 0.4) ? [rows, 1, d] : rows === 1 && chance(r, 0.3) ? [d] : [rows, d];
  const scale = pick(r, [undefined, 1, 0.5, -0.25, 1 / d, 3]);
  return { shape, ...(scale === undefined ? {} : { scale }), seed: int(r, 1, 1e6) };
}
async function checkFwht(rt: Runtime, p: FwhtProblem): Promise<void> {
  const d = p.shape[p.shape.length - 1]!, xs = randn(size(p.shape), p.seed);
  await scoped(rt, () => rt.fwht(rt.tensor(xs, p.shape), p.scale === undefined ? undefined : { scale: p.scale }), async (y) => {
    expectEqual(y.shape, p.shape, 'y shape');
    const ref = fwhtRef(xs, d, p.scale ?? 1);
    expectClose(await read(y), ref, { atol: 4 * U * Math.max(1, Math.log2(d)) * rms(ref), rtol: 0 }, 'y');
  });
}

// fastfood: tolerance of fastfood.cases.ts (its scale taken as below). Rows of d ≤ 8 take the fused
// kernels (whose WGSL depends on d and on inFeatures, outFeatures being multiples of 4: kept off
// here); rows of 16..1024 the multi-pass path (a runtime on the same device with
// Tuning.fastfood.path 'multipass'), whose kernels are the row FWHTs above and small elementwise
// passes (a fused kernel for d ≥ 16 compiles for seconds, d = 32 for ~15 s, on SwiftShader).
interface FastfoodProblem { path: 'fused' | 'multipass'; n: number; inF: number; d: number; blocks: number; out: number; permTensor: boolean; seed: number }
const ffTol = (ref: ArrayLike<number>, d: number, sums = 0): Tolerance => ({ atol: 4 * U * (2 * Math.log2(d) + 3 + sums) * rms(ref), rtol: 0 });
function randomPerm(blocks: number, d: number, r: Rand): Uint32Array {
  const p = new Uint32Array(blocks * d);
  for (let k = 0; k < blocks; k++) {
    const q = Array.from({ length: d }, (_, i) => i);
    for (let i = d - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [q[i], q[j]] = [q[j]!, q[i]!]; }
    p.set(q, k * d);
  }
  return p;
}
function genFastfood(r: Rand, small = false): FastfoodProblem {
  const fused = small || chance(r, 0.6);
  const d = WIDE ? 2 ** int(r, 1, fused ? 11 : 12) : fused ? pick(r, [2, 4, 8, 8]) : pick(r, [16, 16, 64, 64, 1024]);
  const blocks = int(r, 1, 3);
  // inFeatures anywhere in [1, d]; outFeatures: the last block cut short (mostly), every block
  // full, or anywhere (whole blocks unused)
  const draw = () => {
    const inF = chance(r, 0.2) ? d : int(r, 1, d);
    const mode = pick(r, ['cut', 'cut', 'full', 'any']);
    const out = mode === 'full' ? blocks * d : mode === 'any' ? int(r, 1, blocks * d) : (blocks - 1) * d + int(r, 1, d - 1);
    return { inF, out };
  };
  let f = draw();
  while (fused && !WIDE && (f.inF % 4 === 0 || f.out % 4 === 0)) f = draw();
  const n = d >= 1024 ? int(r, 1, 3) : pick(r, [1, 1, 2, 3, 5, 7]);
  return { path: fused ? 'fused' : 'multipass', n, ...f, d, blocks, permTensor: chance(r, 0.5), seed: int(r, 1, 1e6) };
}
function fastfoodData(p: FastfoodProblem) {
  const { n, inF, d, blocks, out, seed } = p;
  const ref = { B: randn(blocks * d, seed), G: randn(blocks * d, seed + 1), S: randn(blocks * d, seed + 2), perm: randomPerm(blocks, d, rng(seed + 3)), blocks, d, outFeatures: out };
  return { ref, xs: randn(n * inF, seed + 4), dys: randn(n * out, seed + 5) };
}
async function checkFastfood(rt: Runtime, p: FastfoodProblem): Promise<void> {
  const { xs, dys, ref } = fastfoodData(p);
  const shape = [p.blocks, p.d];
  await scoped(rt, () => {
    const x = rt.tensor(xs, [p.n, p.inF]);
    const fp: FastfoodParams = { B: rt.tensor(ref.B, shape), G: rt.tensor(ref.G, shape), S: rt.tensor(ref.S, shape), perm: p.permTensor ? rt.tensor(ref.perm, shape) : ref.perm, outFeatures: p.out };
    return { y: rt.fastfood(x, fp), g: rt.fastfoodBackward(x, fp, rt.tensor(dys, [p.n, p.out])) };
  }, async ({ y, g }) => {
    const fr = fastfoodRef(xs, p.n, p.inF, ref), sc = fastfoodScales(p, xs, dys, ref, fr);
    expectEqual(y.shape, [p.n, p.out], 'y shape');
    expectClose(await read(y), fr.y, ffTol(sc.y, p.d), 'y');
    const gr = fastfoodBackwardRef(xs, p.n, p.inF, ref, dys);
    expectClose(await read(g.dx), gr.dx, ffTol(sc.dx, p.d, p.blocks), 'dx');
    for (const k of ['dB', 'dG', 'dS'] as const) expectClose(await read(g[k]), gr[k], ffTol(sc[k], p.d, p.n), k);
  });
}
/**
 * The magnitude each tolerance scales with. fastfood.cases.ts takes rms(reference), which is the
 * typical size of the terms summed into an output when every output is kept; with few outputs
 * (outFeatures or inFeatures much below d) that rms is of a handful of values, which cancellation
 * can make far smaller than the terms (whose rounding remains), and dB, dS are zero past inFeatures
 * and outFeatures. So here: for each output, the ℓ2 norm of its terms (S·a5 for y; B·g1 over blocks
 * for dx; g1·x, g4·a3, g·a5 over rows for dB, dG, dS), from the untruncated float64 intermediates,
 * its rms taken over the entries that are not structurally zero.
 */
function fastfoodScales(p: FastfoodProblem, xs: Float32Array, dys: Float32Array, ref: FastfoodRefParams, fr: { a3: Float64Array; a5: Float64Array }) {
  const { n, inF, d, blocks, out } = p, M = blocks * d;
  const t = { y: new Float64Array(n * M), dx: new Float64Array(n * inF), dB: new Float64Array(M), dG: new Float64Array(M), dS: new Float64Array(M) };
  const g4 = new Float64Array(d), g1 = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < blocks; k++) {
      const o = k * d, s = (r * blocks + k) * d;
      for (let i = 0; i < d; i++) {
        const g = o + i < out ? dys[r * out + o + i]! : 0;
        g4[i] = ref.S[o + i]! * g;
        t.y[s + i] = (ref.S[o + i]! * fr.a5[s + i]!) ** 2;
        t.dS[o + i]! += (g * fr.a5[s + i]!) ** 2;
      }
      fwhtInPlace(g4, 0, d);
      for (let i = 0; i < d; i++) {
        t.dG[o + i]! += (g4[i]! * fr.a3[s + i]!) ** 2;
        g1[ref.perm[o + i]!] = ref.G[o + i]! * g4[i]!;
      }
      fwhtInPlace(g1, 0, d);
      for (let i = 0; i < inF; i++) {
        t.dB[o + i]! += (g1[i]! * xs[r * inF + i]!) ** 2;
        t.dx[r * inF + i]! += (ref.B[o + i]! * g1[i]!) ** 2;
      }
    }
  }
  const rmsOf = (v: Float64Array, keep: (i: number) => boolean) => {
    let sum = 0, count = 0;
    v.forEach((e, i) => { if (keep(i)) { sum += e; count++; } });
    return [Math.sqrt(sum / Math.max(1, count))];
  };
  const all = () => true;
  return { y: rmsOf(t.y, all), dx: rmsOf(t.dx, all), dB: rmsOf(t.dB, (i) => i % d < inF), dG: rmsOf(t.dG, all), dS: rmsOf(t.dS, (i) => i < out) };
}
/** The fastfood family: fused problems on rt, multi-pass ones on a second runtime on its device. */
async function fuzzFastfood(rt: Runtime, count: number): Promise<void> {
  let mp: Runtime | undefined;
  try {
    await fuzz(rt, 'fastfood', count, (r) => genFastfood(r), async (p) => {
      if (p.path === 'multipass') mp ??= await createRuntime({ device: rt.device, tuning: { fastfood: { path: 'multipass' } } });
      await checkFastfood(p.path === 'multipass' ? mp! : rt, p);
    });
  } finally {
    mp?.destroy();
  }
}

// conv2d: tolerance of conv.cases.ts. A kernel's key holds its taps, strides, bias/relu and output
// tile (up to 4 rows × 8 columns × a channel tile): taps, strides, bias and relu come from a few
// templates, channel counts from one tile class (3), and batch, sizes and padding freely where every
// tile is full (the output, and each phase of the input gradient, at least 4 × 8).
interface ConvProblem { x: [number, number, number, number]; w: [number, number, number, number]; stride: [number, number]; padding: [number, number]; bias: boolean; relu: boolean; seed: number }
const convTol = (terms: number): Tolerance => ({ atol: 2e-6 * terms + 1e-6, rtol: 1e-4 });
/** [taps, stride, bias, relu]: 3×3 taps at stride 1 with bias, and relu or not (the Conv2d layer's
 * kernel); 1×1 taps at stride 2 (half the input gradient's phases have no taps) with relu and no
 * bias. A forward kernel with a 4×8×3 tile of 9 taps compiles for seconds on SwiftShader; the 3×3
 * ones with relu are conv.cases.ts's too. */
const CONV_TEMPLATES = [[3, 1, true, true], [3, 1, true, true], [3, 1, true, false], [1, 2, false, true], [1, 2, false, true]] as const;
const CONV_CHANNELS = [3, 5, 6];
/** Every output tile full size: the output and each non-empty phase of the input gradient (as
 * kernels/conv2d_grad_input.wgsl.ts splits it) at least 4 rows × 8 columns. */
function convTilesFull(c: ConvProblem): boolean {
  const g = convGeometry(c), [Ho, Wo] = convOut(g);
  if (Ho < 4 || Wo < 8) return false;
  const phases = (n: number, s: number, p: number) => Array.from({ length: s }, (_, q) => Math.floor((n - 1 + p - q) / s) - Math.ceil((p - q) / s) + 1);
  return phases(g.H, g.sh, g.ph).every((v) => v <= 0 || v >= 4) && phases(g.W, g.sw, g.pw).every((v) => v <= 0 || v >= 8);
}
function genConv(r: Rand): ConvProblem {
  if (WIDE) {
    const kh = int(r, 1, 5), kw = int(r, 1, 5), ph = int(r, 0, kh), pw = int(r, 0, kw), Cin = int(r, 1, 9);
    return {
      x: [pick(r, [1, 1, 2, 3]), Cin, int(r, Math.max(1, kh - 2 * ph), 13), int(r, Math.max(1, kw - 2 * pw), 13)], w: [int(r, 1, 13), Cin, kh, kw],
      stride: [int(r, 1, 3), int(r, 1, 3)], padding: [ph, pw], bias: chance(r, 0.5), relu: chance(r, 0.3), seed: int(r, 1, 1e6),
    };
  }
  const [k, s, bias, relu] = pick(r, CONV_TEMPLATES);
  const template = { stride: [s, s] as [number, number], bias, relu };
  const N = pick(r, [1, 1, 2, 3]), Cin = pick(r, CONV_CHANNELS), Cout = pick(r, CONV_CHANNELS);
  for (;;) {
    const padding: [number, number] = [int(r, 0, k - 1 + (chance(r, 0.1) ? 1 : 0)), int(r, 0, k - 1)];
    const H = int(r, 3, 4 * s + 6), W = int(r, 7, 8 * s + 6);
    const c: ConvProblem = { x: [N, Cin, H, W], w: [Cout, Cin, k, k], padding, ...template, seed: int(r, 1, 1e6) };
    if (convTilesFull(c)) return c;
  }
}
const convGeometry = (c: ConvProblem): ConvGeometry => {
  const [N, Cin, H, W] = c.x, [Cout, , kh, kw] = c.w;
  return { N, Cin, H, W, Cout, kh, kw, sh: c.stride[0], sw: c.stride[1], ph: c.padding[0], pw: c.padding[1] };
};
async function checkConv(rt: Runtime, c: ConvProblem): Promise<void> {
  const g = convGeometry(c), [Ho, Wo] = convOut(g), s = c.seed;
  const xs = randn(size(c.x), s), ws = randn(size(c.w), s + 1), bs = randn(g.Cout, s + 2), dys = randn(g.N * g.Cout * Ho * Wo, s + 3);
  await scoped(rt, () => {
    const x = rt.tensor(xs, c.x), w = rt.tensor(ws, c.w);
    return {
      y: rt.conv2d(x, w, c.bias ? rt.tensor(bs, [g.Cout]) : null, { stride: c.stride, padding: c.padding, relu: c.relu }),
      gr: rt.conv2dBackward(x, w, rt.tensor(dys, [g.N, g.Cout, Ho, Wo]), { stride: c.stride, padding: c.padding }),
    };
  }, async ({ y, gr }) => {
    expectEqual(y.shape, [g.N, g.Cout, Ho, Wo], 'y shape');
    expectClose(await read(y), conv2dRef(g, xs, ws, c.bias ? bs : null, c.relu), convTol(g.Cin * g.kh * g.kw), 'y');
    const ref = conv2dBackwardRef(g, xs, ws, dys);
    expectClose(await read(gr.dx), ref.dx, convTol(g.Cout * g.kh * g.kw), 'dx');
    expectClose(await read(gr.dw), ref.dw, convTol(g.N * Ho * Wo), 'dw');
    expectClose(await read(gr.db), ref.db, convTol(g.N * Ho * Wo), 'db');
  });
}

// max/avg pool: tolerances and inputs of pool.cases.ts
interface PoolProblem { x: [number, number, number, number]; opts: PoolOptions; ties: boolean; seed: number }
function genPool(r: Rand): PoolProblem {
  // window shapes of pool.cases.ts (those over 3 taps take the loop variant: one kernel for all)
  const kernel = WIDE ? [int(r, 1, 5), int(r, 1, 5)] as [number, number] : [...pick(r, [[1, 1], [2, 2], [2, 2], [3, 3], [3, 3], [2, 3], [3, 2], [1, 3], [4, 4], [4, 5]] as const)] as [number, number];
  const stride: [number, number] | undefined = chance(r, 0.3) ? undefined : [int(r, 1, 3), int(r, 1, 3)];
  const padding: [number, number] = [int(r, 0, kernel[0] - 1), int(r, 0, kernel[1] - 1)];
  const H = int(r, Math.max(1, kernel[0] - 2 * padding[0]), 10), W = int(r, Math.max(1, kernel[1] - 2 * padding[1]), 10);
  const opts: PoolOptions = { kernel: kernel[0] === kernel[1] && chance(r, 0.5) ? kernel[0] : kernel };
  if (stride) opts.stride = stride;
  if (padding.some((v) => v)) opts.padding = padding;
  return { x: [pick(r, [1, 1, 2, 3]), int(r, 1, 4), H, W], opts, ties: chance(r, 0.5), seed: int(r, 1, 1e6) };
}
const poolGeometry = (o: PoolOptions): PoolRefGeometry => {
  const two = (v: PoolOptions['kernel'] | undefined, d: [number, number]): [number, number] => (v === undefined ? d : typeof v === 'number' ? [v, v] : [v[0], v[1]]);
  const kernel = two(o.kernel, [1, 1]);
  return { kernel, stride: two(o.stride, kernel), padding: two(o.padding, [0, 0]) };
};
async function checkPool(rt: Runtime, p: PoolProblem): Promise<void> {
  const g = poolGeometry(p.opts), ys = poolOutShape(p.x, g);
  const xs = poolInput(size(p.x), p.seed, p.ties), dys = randn(size(ys), p.seed + 1);
  await scoped(rt, () => {
    const x = rt.tensor(xs, p.x), dy = rt.tensor(dys, ys);
    return [rt.maxPool2d(x, p.opts), rt.maxPool2dBackward(x, dy, p.opts), rt.avgPool2d(x, p.opts), rt.avgPool2dBackward(x, dy, p.opts)];
  }, async ([my, mdx, ay, adx]) => {
    expectEqual([my!.shape, ay!.shape], [ys, ys], 'y shapes');
    expectClose(await read(my!), maxPoolRef(xs, p.x, g).y, exact, 'maxPool2d');
    expectClose(await read(mdx!), maxPoolBackwardRef(xs, p.x, dys, g), poolSums, 'maxPool2dBackward');
    expectClose(await read(ay!), avgPoolRef(xs, p.x, g), poolSums, 'avgPool2d');
    expectClose(await read(adx!), avgPoolBackwardRef(p.x, dys, g), poolSums, 'avgPool2dBackward');
  });
}

// linear: tolerance and weight scale of linear.cases.ts
interface LinearProblem { n: number; fin: number; fout: number; bias: boolean; seed: number }
const linTol = (k: number): Tolerance => ({ atol: 2e-6 * k, rtol: 1e-4 });
/** Batch ≤ 4 (odd ones too) and features 5..40 not multiples of 4 (mostly) share five matmul kernels
 * (tiles and vec4 flags); the other draws add a few. */
function genLinear(r: Rand): LinearProblem {
  const dim = () => { if (WIDE || chance(r, 0.08)) return int(r, 1, WIDE ? 70 : 40); let v = int(r, 5, 40); while (v % 4 === 0) v = int(r, 5, 40); return v; };
  return { n: WIDE ? int(r, 1, 40) : chance(r, 0.9) ? int(r, 1, 4) : pick(r, [5, 7, 9]), fin: dim(), fout: dim(), bias: chance(r, 0.6), seed: int(r, 1, 1e6) };
}
async function checkLinear(rt: Runtime, p: LinearProblem): Promise<void> {
  const { n, fin, fout, seed: s } = p;
  const xs = randn(n * fin, s), ws = randn(fout * fin, s + 1, 1 / Math.sqrt(fin)), bs = randn(fout, s + 2), dys = randn(n * fout, s + 3);
  await scoped(rt, () => {
    const x = rt.tensor(xs, [n, fin]), w = rt.tensor(ws, [fout, fin]);
    return { y: rt.linear(x, w, p.bias ? rt.tensor(bs, [fout]) : null), g: rt.linearBackward(x, w, rt.tensor(dys, [n, fout])) };
  }, async ({ y, g }) => {
    expectClose(await read(y), linearRef(xs, ws, p.bias ? bs : null, n, fin, fout), linTol(fin), 'y');
    const ref = linearBackwardRef(xs, ws, dys, n, fin, fout);
    expectClose(await read(g.dx), ref.dx, linTol(fout), 'dx');
    expectClose(await read(g.dw), ref.dw, linTol(n), 'dw');
    expectClose(await read(g.db), ref.db, linTol(n), 'db');
  });
}

// relu: exact (elementwise.cases.ts); some inputs exactly 0 (relu'(0) = 0)
interface ReluProblem { shape: number[]; zeros: boolean; seed: number }
function genRelu(r: Rand): ReluProblem {
  const rank = int(r, 1, 4);
  return { shape: Array.from({ length: rank }, () => (chance(r, 0.2) ? 1 : int(r, 1, rank === 1 ? 700 : 9))), zeros: chance(r, 0.5), seed: int(r, 1, 1e6) };
}
async function checkRelu(rt: Runtime, p: ReluProblem): Promise<void> {
  const n = size(p.shape), xs = randn(n, p.seed), dys = randn(n, p.seed + 1);
  if (p.zeros) for (let i = 0; i < n; i += 3) xs[i] = 0;
  await scoped(rt, () => {
    const x = rt.tensor(xs, p.shape);
    return [rt.relu(x), rt.reluBackward(x, rt.tensor(dys, p.shape))];
  }, async ([y, dx]) => {
    expectClose(await read(y!), reluRef(xs), exact, 'relu');
    expectClose(await read(dx!), reluBackwardRef(xs, dys), exact, 'reluBackward');
  });
}

// softmax cross-entropy: tolerances and logits of softmax.cases.ts
interface SoftmaxProblem { n: number; c: number; scale: number; seed: number }
function genSoftmax(r: Rand): SoftmaxProblem {
  const n = chance(r, 0.1) ? pick(r, [64, 65, 70]) : int(r, 1, 9);
  const c = chance(r, 0.15) ? pick(r, [1, 100, 257]) : int(r, 2, 20);
  return { n, c, scale: pick(r, [1, 1, 2, 5, 30, 1000]), seed: int(r, 1, 1e6) };
}
async function checkSoftmax(rt: Runtime, p: SoftmaxProblem): Promise<void> {
  const { n, c, scale } = p;
  const zs = randn(n * c, p.seed, scale), lr = rng(p.seed + 1), ls = Int32Array.from({ length: n }, () => Math.floor(lr() * c));
  for (let r = 0; r < n; r += 2) zs[r * c + ls[r]!] = 4 * scale; // some rows predict their label
  await scoped(rt, () => {
    const z = rt.tensor(zs, [n, c]), l = rt.tensor(ls, [n]);
    return [rt.softmaxCrossEntropy(z, l), rt.softmaxCrossEntropyBackward(z, l)];
  }, async ([loss, dz]) => {
    expectEqual(loss!.shape, [1], 'loss shape');
    expectClose(await read(loss!), [softmaxXentRef(zs, ls, n, c)], { atol: 1e-5, rtol: 1e-5 }, 'loss');
    expectClose(await read(dz!), softmaxXentBackwardRef(zs, ls, n, c), { atol: 1e-6, rtol: 1e-4 }, 'dlogits');
  });
}

const OPS: { [F in OpFamily]: { what: string; gen: (r: Rand) => unknown; check: (rt: Runtime, p: never) => Promise<void> } } = {
  fwht: { what: 'fwht (d 2..2^16, odd batches, rank 1–3, scale)', gen: genFwht, check: checkFwht },
  fastfood: { what: 'fastfood fwd+bwd (1–3 blocks, any inFeatures ≤ d, outFeatures cut, d 2..1024, fused and multi-pass)', gen: (r) => genFastfood(r), check: checkFastfood },
  conv2d: { what: 'conv2d fwd+bwd (odd sizes, batch 1, stride/padding/kernel, bias, relu)', gen: genConv, check: checkConv },
  pool: { what: 'max+avg pool fwd+bwd (kernel/stride/padding, ties)', gen: genPool, check: checkPool },
  linear: { what: 'linear fwd+bwd (any in/out, bias on/off)', gen: genLinear, check: checkLinear },
  relu: { what: 'relu fwd+bwd (rank 1–4)', gen: genRelu, check: checkRelu },
  softmax: { what: 'softmax cross-entropy fwd+bwd (batch 1..70, 1..257 classes, large logits)', gen: genSoftmax, check: checkSoftmax },
};

// ------------------------------------------------------------------ 2. models: compiled step = eager ops + references
interface ModelProblem {
  inputShape: number[]; batch: number; layers: LayerConfig[]; classes: number;
  optimizer: OptimizerConfig; schedule?: [number, number]; seed: number;
}
/** Conv layers as the op family's (3×3 taps, stride 1, 3–6 channels, outputs of at least 4 × 8), a
 * Fastfood layer's d 2, 4 or 8 (behind a Linear layer on a larger input), so that the compiled
 * step's kernels are mostly the op problems' own. */
function genModel(r: Rand): ModelProblem {
  // sizes off multiples of 4 where free, as the linear family's (the matmul's vec4 variants)
  const notFour = (lo: number, hi: number) => { let v = int(r, lo, hi); while (v % 4 === 0) v = int(r, lo, hi); return v; };
  const layers: LayerConfig[] = [];
  const classes = notFour(2, 10);
  let inputShape: number[], features: number;
  if (chance(r, 0.6)) {
    inputShape = [1, int(r, 8, 12), int(r, 10, 12)];
    let [c, h, w] = inputShape as [number, number, number];
    for (const k of chance(r, 0.3) ? [3, 3] : [3]) {
      const p = int(r, 0, 1), cout = pick(r, CONV_CHANNELS);
      const [ho, wo] = [h + 2 * p - k + 1, w + 2 * p - k + 1];
      if (ho < 4 || wo < 8) break;
      layers.push({ kind: 'Conv2d', inChannels: c, outChannels: cout, kernel: [k, k], stride: [1, 1], padding: [p, p] });
      [c, h, w] = [cout, ho, wo];
      if (chance(r, 0.7)) layers.push({ kind: 'ReLU' });
      const pk = pick(r, [2, 2, 3]), ps = int(r, 1, pk), pp = int(r, 0, pk - 1);
      if (chance(r, 0.5) && pk <= h + 2 * pp && pk <= w + 2 * pp) {
        layers.push({ kind: chance(r, 0.5) ? 'MaxPool2d' : 'AvgPool2d', kernel: [pk, pk], stride: [ps, ps], padding: [pp, pp] });
        [h, w] = [Math.floor((h + 2 * pp - pk) / ps) + 1, Math.floor((w + 2 * pp - pk) / ps) + 1];
        break;
      }
    }
    layers.push({ kind: 'Flatten' });
    features = c * h * w;
  } else {
    features = notFour(3, 40);
    inputShape = [features];
  }
  const ff = (inF: number, outF: number): LayerConfig => {
    const d = 2 ** Math.ceil(Math.log2(Math.max(inF, 2)));
    return { kind: chance(r, 0.6) ? 'AdaptiveFastfood' : 'Fastfood', inFeatures: inF, outFeatures: outF, d: d < 8 && chance(r, 0.3) ? 2 * d : d, ...(chance(r, 0.2) ? { sigma: pick(r, [0.5, 3]) } : {}) };
  };
  const dropout = () => { if (chance(r, 0.5)) layers.push({ kind: 'Dropout', p: pick(r, [0, 0.25, 0.5]) }); };
  const head = pick(r, features <= 8 && features % 4 ? ['linear', 'fastfood-last', 'fastfood-last'] : ['linear', 'mlp', 'fastfood', 'fastfood']);
  if (head === 'linear') layers.push({ kind: 'Linear', inFeatures: features, outFeatures: classes });
  else if (head === 'fastfood-last') layers.push(ff(features, notFour(2, 10)));
  else if (head === 'mlp') {
    const hidden = notFour(3, 15);
    layers.push({ kind: 'Linear', inFeatures: features, outFeatures: hidden }, { kind: 'ReLU' });
    dropout();
    layers.push({ kind: 'Linear', inFeatures: hidden, outFeatures: classes });
  } else {
    const narrow = notFour(3, 7), out = notFour(2, 20);
    layers.push({ kind: 'Linear', inFeatures: features, outFeatures: narrow }, ff(narrow, out), { kind: 'ReLU' });
    dropout();
    layers.push({ kind: 'Linear', inFeatures: out, outFeatures: classes });
  }
  const last = layers[layers.length - 1]!;
  const nClasses = last.kind === 'Linear' || last.kind === 'Fastfood' || last.kind === 'AdaptiveFastfood' ? last.outFeatures : classes;
  const optimizer: OptimizerConfig = chance(r, 0.5)
    ? { kind: 'sgd', lr: pick(r, [0.01, 0.05, 0.1]), ...pick(r, [{}, { momentum: 0 }, { momentum: 0.5 }]), ...pick(r, [{}, { weightDecay: 5e-4 }, { weightDecay: 0.01 }]) }
    : { kind: 'adam', lr: pick(r, [1e-3, 5e-3, 0.01]), ...pick(r, [{}, { beta1: 0.8, beta2: 0.99 }]), ...pick(r, [{}, { eps: 1e-6 }]), ...pick(r, [{}, { weightDecay: 1e-3 }]) };
  return { inputShape, batch: int(r, 1, 4), layers, classes: nClasses, optimizer, ...(chance(r, 0.3) ? { schedule: [0.5, 0.75] as [number, number] } : {}), seed: int(r, 1, 1e6) };
}

/** One training step done with the eager ops on host copies of the parameters; the Dropout masks
 * come from the step's hyper-parameters (the compiled step's seed) through the same dropout kernel. */
function eagerStep(rt: Runtime, model: Sequential, host: Map<Param, TypedArray>, xs: Float32Array, ls: Int32Array, hyper: Float32Array) {
  return rt.tidy(() => {
    const t = (p: Param) => rt.tensor(host.get(p)!, p.shape);
    const hyperT = rt.tensor(hyper, [hyper.length]);
    const dropout = (v: Tensor, p: number) => rt.op('dropout', () => rt.empty(v.shape), (y) => encodeDropout(hyperT, v, y, p));
    const view = (v: Tensor, shape: readonly number[]) => rt.wrap(v.buffer, shape);
    const values = new Map<Param, Tensor>();
    for (const p of model.params) values.set(p, t(p));
    const v = (p: Param) => values.get(p)!;
    const ffp = (l: Fastfood): FastfoodParams => ({ B: v(l.B), G: v(l.G), S: v(l.S), perm: v(l.perm), outFeatures: l.outFeatures });
    const inputs: Tensor[] = [];
    let h = rt.tensor(xs, [ls.length, ...model.inputShape]);
    for (const l of model.layers) {
      inputs.push(h);
      if (l instanceof Conv2d) h = rt.conv2d(h, v(l.w), v(l.b), l.opts);
      else if (l instanceof MaxPool2d) h = rt.maxPool2d(h, l.opts);
      else if (l instanceof AvgPool2d) h = rt.avgPool2d(h, l.opts);
      else if (l instanceof ReLU) h = rt.relu(h);
      else if (l instanceof Flatten) h = view(h, l.outShape(h.shape));
      else if (l instanceof Dropout) h = l.p === 0 ? h : dropout(h, l.p);
      else if (l instanceof Linear) h = rt.linear(h, v(l.w), v(l.b));
      else if (l instanceof Fastfood) h = rt.fastfood(h, ffp(l));
      else throw new Error(`no eager replay for layer ${l.kind}`);
    }
    const labels = rt.tensor(ls, [ls.length]);
    const loss = rt.softmaxCrossEntropy(h, labels), logits = h;
    let dy = rt.softmaxCrossEntropyBackward(h, labels);
    const grads = new Map<Param, Tensor>();
    for (let i = model.layers.length - 1; i >= 0; i--) {
      const l = model.layers[i]!, x = inputs[i]!;
      if (l instanceof Conv2d) {
        const g = rt.conv2dBackward(x, v(l.w), dy, l.opts);
        grads.set(l.w, g.dw).set(l.b, g.db);
        dy = g.dx;
      } else if (l instanceof MaxPool2d) dy = rt.maxPool2dBackward(x, dy, l.opts);
      else if (l instanceof AvgPool2d) dy = rt.avgPool2dBackward(x, dy, l.opts);
      else if (l instanceof ReLU) dy = rt.reluBackward(x, dy);
      else if (l instanceof Flatten) dy = view(dy, x.shape);
      else if (l instanceof Dropout) dy = l.p === 0 ? dy : dropout(dy, l.p);
      else if (l instanceof Linear) {
        const g = rt.linearBackward(x, v(l.w), dy);
        grads.set(l.w, g.dw).set(l.b, g.db);
        dy = g.dx;
      } else if (l instanceof Fastfood) {
        const g = rt.fastfoodBackward(x, ffp(l), dy);
        grads.set(l.B, g.dB).set(l.G, g.dG).set(l.S, g.dS);
        dy = g.dx;
      }
    }
    return { loss, logits, grads: Object.fromEntries([...grads].map(([p, g]) => [p.path, g])) };
  });
}

const STEPS = 2;
// The compiled and the eager gradients differ by rounding only (the same kernels, mostly bit for bit).
const gradTol = (ref: ArrayLike<number>, k = 1): Tolerance => ({ atol: k * (1e-5 * rms(ref) + 1e-9), rtol: 1e-4 });
/** A weight after the step: a few ulps of w, plus `rel` of the largest update (Adam: the kernel's f32
 * β2 makes v, and so the step, differ from float64 by ~1e-5 of it). */
function weightTol(w0: ArrayLike<number>, w: ArrayLike<number>, rel: number): Tolerance {
  let step = 0;
  for (let j = 0; j < w.length; j++) step = Math.max(step, Math.abs(w[j]! - w0[j]!));
  return { atol: rel * step + 1e-30, rtol: 2 ** -22 };
}
/** Rows whose largest logit leads the next by a margin that rounding cannot close. */
function clearWinners(z: Float32Array, n: number, c: number): boolean {
  for (let r = 0; r < n; r++) {
    const row = Array.from(z.subarray(r * c, (r + 1) * c)).sort((a, b) => b - a);
    if (c > 1 && !(row[0]! - row[1]! > 1e-4 * (1 + Math.abs(row[0]!)))) return false;
  }
  return true;
}

/**
 * Each step: the parameters and optimizer state before it, the compiled step, then the same step
 * with the eager ops on copies of the parameters before it. Checked: the step's loss and correct
 * count; each gradient, through the optimizer state it went into (the float64 reference update of
 * the state before, with the eager gradient); each weight (the float64 reference update, with the
 * gradient the compiled step used, recovered from its new state); untrained parameters unchanged.
 */
async function checkModel(rt: Runtime, mp: ModelProblem): Promise<void> {
  const model = Sequential.fromConfig({ name: 'fuzz', inputShape: mp.inputShape, layers: mp.layers }).init(rt, mp.seed);
  const schedule = mp.schedule ? invSchedule(...mp.schedule) : undefined;
  const trainer = await compileTrainer(rt, model, { batch: mp.batch, optimizer: mp.optimizer, ...(schedule ? { schedule } : {}) });
  try {
    const o = mp.optimizer, params = model.params;
    const readAll = (ts: Tensor[]) => Promise.all(ts.map((t) => t.read()));
    for (let step = 0; step < STEPS; step++) {
      const xs = randn(mp.batch * size(mp.inputShape), mp.seed + 10 * step);
      const lr = rng(mp.seed + 10 * step + 1), ls = Int32Array.from({ length: mp.batch }, () => Math.floor(lr() * mp.classes));
      const before = await readAll(params.map((p) => p.value));
      const stateBefore = await Promise.all(params.map((p) => readAll(trainer.state.get(p) ?? [])));
      await trainer.step(xs, ls);
      const stats = await trainer.stats();
      const hyper = (await trainer.hyper.read()) as Float32Array;
      const after = await readAll(params.map((p) => p.value));
      const stateAfter = await Promise.all(params.map((p) => readAll(trainer.state.get(p) ?? [])));
      const eager = eagerStep(rt, model, new Map(params.map((p, i) => [p, before[i]!])), xs, ls, hyper);
      try {
        const [loss] = await read(eager.loss), logits = await read(eager.logits);
        expectClose([stats.loss], [loss!], { atol: 1e-5, rtol: 1e-5 }, `step ${step}: loss of the compiled step vs the eager ops`);
        expectClose([loss!], [softmaxXentRef(logits, ls, mp.batch, mp.classes)], { atol: 1e-5, rtol: 1e-5 }, `step ${step}: eager loss vs float64`);
        if (clearWinners(logits, mp.batch, mp.classes)) {
          expectEqual(Math.round(stats.accuracy * mp.batch), correctRef(logits, ls, mp.batch, mp.classes), `step ${step}: correct count of the compiled step`);
        }
        const mul = schedule?.(step) ?? 1;
        for (const [i, p] of params.entries()) {
          const what = `step ${step}: ${p.path}`, gt = eager.grads[p.path];
          const w0 = before[i]!, w1 = after[i]!, [s0, s1] = [stateBefore[i]!, stateAfter[i]!];
          if (!p.trainable || !gt) {
            expectClose(w1, w0, exact, `${what} (not trained) is unchanged`);
            continue;
          }
          const g = await read(gt), decay = p.decay ? o.weightDecay ?? 0 : 0;
          if (o.kind === 'sgd') {
            const mu = o.momentum ?? 0.9, rate = o.lr * mul * p.scale ** 2; // SGD's lr multiplier is scale² (Param.scale)
            const ref = sgdRef(w0, s0[0]!, g, rate, mu, decay);
            expectClose(s1[0]!, ref.v, gradTol(ref.v), `${what} momentum buffer vs μ·v + eager gradient + λ·w`);
            const gc = Float64Array.from(s1[0]!, (v1, j) => v1 - mu * s0[0]![j]! - decay * w0[j]!);
            const w = sgdRef(w0, s0[0]!, gc, rate, mu, decay).w;
            expectClose(w1, w, weightTol(w0, w, 1e-6), `${what} weight vs float64 SGD update`);
          } else {
            const b1 = o.beta1 ?? 0.9, ao = { lr: o.lr * mul * p.scale, beta1: b1, beta2: o.beta2 ?? 0.999, eps: o.eps ?? 1e-8, decay, t: step + 1 };
            const ref = adamRef(w0, s0[0]!, s0[1]!, g, ao);
            expectClose(s1[0]!, ref.m, gradTol(ref.m), `${what} Adam m vs float64 with the eager gradient`);
            expectClose(s1[1]!, ref.v, gradTol(ref.v, 10), `${what} Adam v vs float64 with the eager gradient`);
            const gc = Float64Array.from(s1[0]!, (m1, j) => (m1 - b1 * s0[0]![j]!) / (1 - b1) - decay * w0[j]!);
            const w = adamRef(w0, s0[0]!, s0[1]!, gc, ao).w;
            expectClose(w1, w, weightTol(w0, w, 2e-5), `${what} weight vs float64 Adam update`);
          }
        }
      } finally {
        disposeAll(eager);
      }
    }
  } finally {
    trainer.destroy();
    model.dispose();
  }
}

// ------------------------------------------------------------------ 3. illegal arguments
// A legal problem of one op (or of rt.tensor / rt.write), one argument made illegal. The call must
// throw an Error naming that argument (`arg`, as a word, and `pattern`), leave no GPU buffer in use,
// and the runtime must then compute the legal problem correctly.
// Not generated (they were not rejected when this generator was written; now they are, tested in
// library.cases.ts 'errors: arguments the fuzzer found unchecked …'):
//  - maxPool2dBackward / avgPool2dBackward with an i32 or u32 dy, reluBackward with an i32 or u32 x
//    or dy: no dtype check, the bits are read as f32;
//  - rt.relu(null | undefined): relu checks x as an optional operand, then reading x.shape throws a
//    TypeError that names nothing;
//  - rt.conv2d(x, w, undefined | 0): encodeConv2d tests `b !== null`, conv2d tests `b ?`, so a
//    bias kernel gets 3 buffers ("binds 4 buffers, got 3"), naming neither b nor bias;
//  - rt.conv2d(x, w, b, null): a TypeError reading 'stride';
//  - rt.fastfood(x) with x a plain array: taken for a shape, then WebGPU's createBindGroup throws;
//  - avgPool2dBackward with another runtime's x: only its shape is read, so it is accepted.
// A tensor of another runtime is named by the op and its shape, not by the argument (arg null).
type Args = Record<string, unknown>;
interface Makers {
  f32(shape: readonly number[]): Tensor;
  tensor(data: TypedArray, shape: readonly number[]): Tensor;
  /** The same shape, dtype and host data, made by the second runtime. */
  foreign(t: Tensor): Tensor;
  disposed(t: Tensor): Tensor;
}
interface Mutation { kind: string; arg: string | null; detail?: unknown; pattern: RegExp; apply(a: Args, m: Makers): void }
interface Subject { op: string; call(rt: Runtime, a: Args): unknown; args(m: Makers): Args; mutations: Mutation[]; check(rt: Runtime): Promise<void> }
interface IllegalProblem { op: string; legal: unknown; kind: string; arg: string | null; detail?: unknown }

const re = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const word = (arg: string) => new RegExp(`\\b${re(arg)}\\b`);
/** Mutations every tensor operand has: disposed, not a tensor, another runtime's, (for those whose
 * dtype the op checks) the wrong dtype. */
function operandMutations(r: Rand, op: string, names: string[], dtypes: Record<string, 'f32' | 'i32' | 'u32' | null>, noNull: string[] = []): Mutation[] {
  const out: Mutation[] = [];
  for (const n of names) {
    out.push({ kind: 'disposed', arg: n, pattern: new RegExp(`${op}: ${n} was used after dispose\\(\\)`), apply: (a, m) => { a[n] = m.disposed(a[n] as Tensor); } });
    const v = pick(r, noNull.includes(n) ? ['number', 'Float32Array'] : ['null', 'number', 'Float32Array']);
    out.push({
      kind: 'not a tensor', arg: n, detail: v, pattern: new RegExp(`${op}: ${n} must be a tensor, got ${v === 'Float32Array' ? 'object' : v}`),
      apply: (a) => { a[n] = v === 'null' ? null : v === 'number' ? 42 : new Float32Array(4); },
    });
    out.push({ kind: 'another runtime', arg: null, detail: n, pattern: new RegExp(`${op}: a tensor \\[[\\d,]+\\] of another runtime was passed`), apply: (a, m) => { a[n] = m.foreign(a[n] as Tensor); } });
    const want = dtypes[n];
    if (want) {
      const got = want === 'f32' ? pick(r, ['i32', 'u32'] as const) : 'f32';
      out.push({
        kind: 'dtype', arg: n, detail: got, pattern: new RegExp(`${op}: ${n} must be ${want}, got ${got}`),
        apply: (a, m) => {
          const t = a[n] as Tensor;
          a[n] = m.tensor(got === 'f32' ? new Float32Array(t.size) : got === 'i32' ? new Int32Array(t.size) : new Uint32Array(t.size), t.shape);
        },
      });
    }
  }
  return out;
}
const withShape = (n: string, shape: number[], kind = 'shape'): Pick<Mutation, 'kind' | 'arg' | 'detail' | 'apply'> =>
  ({ kind, arg: n, detail: shape, apply: (a, m) => { a[n] = m.f32(shape); } });
/** A rank one off: a dimension of 1 appended or the first one dropped. */
const offRank = (r: Rand, s: readonly number[]): number[] => (s.length > 1 && chance(r, 0.5) ? s.slice(1) : [...s, 1]);
const notInt = (r: Rand) => pick(r, [1.5, NaN, Infinity, -0.5]);

function fwhtSubject(r: Rand): Subject & { legal: FwhtProblem } {
  let legal = genFwht(r);
  while (legal.shape[legal.shape.length - 1]! > 1024) legal = genFwht(r);
  const d = legal.shape[legal.shape.length - 1]!;
  const bad = pick(r, [1, 3, 6, 12, d + 1 === 3 ? 3 : d + 1, d * 3]);
  const scale = pick(r, [NaN, Infinity, -Infinity, '2']);
  return {
    op: 'fwht', legal,
    args: (m) => ({ x: m.f32(legal.shape), scale: legal.scale }),
    call: (rt, a) => rt.fwht(a.x as Tensor, a.scale === undefined ? undefined : { scale: a.scale as number }),
    check: (rt) => checkFwht(rt, legal),
    mutations: [
      ...operandMutations(r, 'fwht', ['x'], { x: 'f32' }),
      { ...withShape('x', [...legal.shape.slice(0, -1), bad], 'last axis'), pattern: new RegExp(`fwht: the last axis of x must be a power of two ≥ 2, got ${bad}`) },
      { kind: 'scale', arg: 'scale', detail: String(scale), pattern: /fwht: scale must be a finite number, got/, apply: (a) => { a.scale = scale; } },
    ],
  };
}

function fastfoodSubject(r: Rand): Subject & { legal: FastfoodProblem & { backward: boolean } } {
  const legal = { ...genFastfood(r, true), backward: chance(r, 0.5) };
  const { n, inF, d, blocks, out } = legal, sh = [blocks, d];
  const ident = () => Uint32Array.from({ length: blocks * d }, (_, i) => i % d);
  const repeat = ident(), row = int(r, 0, blocks - 1), at = int(r, 0, d - 1);
  repeat[row * d + at] = (at + 1) % d;
  const outside = ident(), big = pick(r, [d, d + 5]);
  outside[row * d + at] = big;
  const op = legal.backward ? 'fastfoodBackward' : 'fastfood';
  const badD = pick(r, [3, 6, 12]), badOut = pick(r, [0, -3, 2.5, NaN]);
  const mutations: Mutation[] = [
    // shape checks name the op 'fastfood' in the backward too; a foreign tensor is met at the queue, which names the call
    ...operandMutations(r, 'fastfood(?:Backward)?', ['x', 'B', 'G', 'S', ...(legal.backward ? ['dy'] : [])], { x: 'f32', B: 'f32', G: 'f32', S: 'f32', dy: 'f32' }),
    { ...withShape('x', offRank(r, [n, inF]), 'rank'), pattern: /fastfood: x must have rank 2/ },
    { ...withShape('B', [blocks * d]), pattern: /fastfood: B must have rank 2/ },
    {
      kind: 'd', arg: 'B', detail: badD, pattern: new RegExp(`fastfood: d \\(the last axis of B\\) must be a power of two ≥ 2, got ${badD}`),
      apply: (a, m) => { for (const k of ['B', 'G', 'S']) a[k] = m.f32([blocks, badD]); a.perm = Uint32Array.from({ length: blocks * badD }, (_, i) => i % badD); },
    },
    { ...withShape('G', [blocks + 1, d]), pattern: new RegExp(`fastfood: G has shape \\[${blocks + 1},${d}\\] but B has shape \\[${blocks},${d}\\]`) },
    { ...withShape('S', [blocks, 2 * d]), pattern: new RegExp(`fastfood: S has shape \\[${blocks},${2 * d}\\] but B has shape`) },
    { ...withShape('x', [n, d + int(r, 1, 3)], 'inFeatures > d'), arg: 'inFeatures', pattern: new RegExp(`fastfood: inFeatures \\(\\d+\\) must be ≤ d \\(${d}\\)`) },
    {
      kind: 'perm repeats', arg: 'perm', detail: [row, at], pattern: new RegExp(`fastfood: perm is not a permutation: block ${row} repeats ${(at + 1) % d}`),
      apply: (a, m) => { a.perm = legal.permTensor ? m.tensor(repeat, sh) : repeat; },
    },
    {
      kind: 'perm outside', arg: 'perm', detail: [row, at, big], pattern: new RegExp(`fastfood: perm is not a permutation: block ${row} has entry ${big} outside \\[0, ${d}\\) at ${at}`),
      apply: (a, m) => { a.perm = legal.permTensor ? m.tensor(outside, sh) : outside; },
    },
    { kind: 'x a shape, not a tensor', arg: 'x', pattern: /fastfood(Backward)?: x must be a tensor, got object/, apply: (a) => { a.x = [n, inF] as unknown as Tensor; } },
    { kind: 'perm negative', arg: 'perm', pattern: /fastfood: perm is not a permutation: block 0 has entry -1 outside/, apply: (a, m) => { const p = Int32Array.from(ident()); p[0] = -1; a.perm = m.tensor(p, sh); } },
    { kind: 'perm length', arg: 'perm', pattern: new RegExp(`fastfood: perm has ${(blocks + 1) * d} entries but needs blocks·d = ${blocks * d}`), apply: (a) => { a.perm = new Uint32Array((blocks + 1) * d); } },
    { kind: 'perm shape', arg: 'perm', pattern: /fastfood: perm has shape \[[\d,]+\] but B has shape/, apply: (a, m) => { a.perm = m.tensor(new Uint32Array(blocks * d), [blocks * d, 1]); } },
    { kind: 'perm dtype', arg: 'perm', pattern: /fastfood: perm must be a u32 \(or i32\) tensor, got f32/, apply: (a, m) => { a.perm = m.f32(sh); } },
    { kind: 'perm not a tensor', arg: 'perm', pattern: /fastfood: perm must be a Uint32Array or a u32 tensor/, apply: (a) => { a.perm = Array.from(ident()); } },
    ...(legal.permTensor ? [
      { kind: 'perm disposed', arg: 'perm', pattern: /fastfood: perm was used after dispose\(\)/, apply: (a: Args, m: Makers) => { a.perm = m.disposed(a.perm as Tensor); } },
      { kind: 'perm of another runtime', arg: null, pattern: /fastfood(Backward)?: a tensor \[[\d,]+\] of another runtime was passed as "perm"/, apply: (a: Args, m: Makers) => { a.perm = m.foreign(a.perm as Tensor); } },
    ] : []),
    { kind: 'outFeatures > blocks·d', arg: 'outFeatures', pattern: new RegExp(`fastfood: outFeatures \\(${blocks * d + 1}\\) must be ≤ blocks·d`), apply: (a) => { a.outFeatures = blocks * d + 1; } },
    { kind: 'outFeatures', arg: 'outFeatures', detail: String(badOut), pattern: /fastfood: outFeatures must be a positive integer/, apply: (a) => { a.outFeatures = badOut; } },
    ...(legal.backward ? [{ ...withShape('dy', [n, out + 1]), pattern: new RegExp(`fastfood: dy must have shape \\[${n},${out}\\], got \\[${n},${out + 1}\\]`) }] : [
      { kind: 'over the device limit', arg: 'y', pattern: /fastfood y\[32768,65536\] needs \d+ bytes, over this device's limit/,
        apply: (a: Args, m: Makers) => {
          const p = [1, 65536];
          Object.assign(a, { x: m.f32([32768, 1]), B: m.f32(p), G: m.f32(p), S: m.f32(p), perm: Uint32Array.from({ length: 65536 }, (_, i) => i), outFeatures: 65536 });
        } },
    ]),
  ];
  return {
    op, legal, mutations,
    args: (m) => {
      const { ref } = fastfoodData(legal);
      return { x: m.f32([n, inF]), B: m.tensor(ref.B, sh), G: m.tensor(ref.G, sh), S: m.tensor(ref.S, sh), perm: legal.permTensor ? m.tensor(ref.perm, sh) : ref.perm, outFeatures: out, dy: m.f32([n, out]) };
    },
    call: (rt, a) => {
      const p = { B: a.B, G: a.G, S: a.S, perm: a.perm, outFeatures: a.outFeatures } as FastfoodParams;
      return legal.backward ? rt.fastfoodBackward(a.x as Tensor, p, a.dy as Tensor) : rt.fastfood(a.x as Tensor, p);
    },
    check: (rt) => checkFastfood(rt, legal),
  };
}

function convSubject(r: Rand): Subject & { legal: ConvProblem & { backward: boolean } } {
  const legal = { ...genConv(r), backward: chance(r, 0.5) };
  const g = convGeometry(legal), [Ho, Wo] = convOut(g), op = legal.backward ? 'conv2dBackward' : 'conv2d';
  const badStride = pick(r, [0, -1, [1, 0], 1.5, NaN, [2, 0.5]] as const), badPad = pick(r, [-1, [0, -2], 0.5] as const);
  const strideInt = typeof badStride === 'number' ? Number.isInteger(badStride) : badStride.every(Number.isInteger);
  const padInt = typeof badPad === 'number' ? Number.isInteger(badPad) : badPad.every(Number.isInteger);
  const kh = g.H + 2 * g.ph + int(r, 1, 2);
  const mutations: Mutation[] = [
    ...operandMutations(r, op, ['x', 'w', ...(legal.backward ? ['dy'] : legal.bias ? ['b'] : [])], { x: 'f32', w: 'f32', b: 'f32', dy: 'f32' }, ['b']),
    { ...withShape('x', offRank(r, legal.x), 'rank'), pattern: new RegExp(`${op}: x must have rank 4 \\(N, Cin, H, W\\)`) },
    { ...withShape('w', offRank(r, legal.w), 'rank'), pattern: new RegExp(`${op}: w must have rank 4 \\(Cout, Cin, kh, kw\\)`) },
    { ...withShape('w', [g.Cout, g.Cin + 1, g.kh, g.kw], 'channels'), pattern: new RegExp(`${op}: channel mismatch: x has ${g.Cin} input channels but w \\[[\\d,]+\\] expects ${g.Cin + 1}`) },
    { ...withShape('w', [g.Cout, g.Cin, kh, g.kw], 'kernel too large'), arg: 'kernel', pattern: new RegExp(`${op}: kernel ${kh}x${g.kw} is larger than the padded input ${g.H + 2 * g.ph}x${g.W + 2 * g.pw}`) },
    {
      kind: 'stride', arg: 'stride', detail: String(badStride),
      pattern: strideInt ? new RegExp(`${op}: stride must be at least 1`) : new RegExp(`${op} stride must be an integer or \\[h, w\\] pair`),
      apply: (a) => { a.opts = { ...(a.opts as object), stride: badStride }; },
    },
    {
      kind: 'padding', arg: 'padding', detail: String(badPad),
      pattern: padInt ? new RegExp(`${op}: padding must not be negative`) : new RegExp(`${op} padding must be an integer or \\[h, w\\] pair`),
      apply: (a) => { a.opts = { ...(a.opts as object), padding: badPad }; },
    },
    ...(legal.backward ? [
      { ...withShape('dy', [g.N, g.Cout, Ho + 1, Wo]), pattern: new RegExp(`conv2dBackward: dy must have shape \\[${g.N},${g.Cout},${Ho},${Wo}\\], got`) },
      { ...withShape('dy', [g.Cout, Ho, Wo], 'rank'), pattern: /conv2dBackward: dy must have rank 4/ },
    ] : [
      { ...withShape('b', [g.Cout + 1]), arg: 'bias', pattern: new RegExp(`conv2d: bias must have shape \\[${g.Cout}\\] \\(one per output channel\\), got \\[${g.Cout + 1}\\]`) },
      { kind: 'over the device limit', arg: 'y', pattern: /conv2d y\[1,1,60001,60001\] needs \d+ bytes, over this device's limit/,
        apply: (a: Args, m: Makers) => { Object.assign(a, { x: m.f32([1, 1, 1, 1]), w: m.f32([1, 1, 1, 1]), b: null, opts: { padding: 30000 } }); } },
    ]),
  ];
  return {
    op, legal, mutations,
    args: (m) => ({ x: m.f32(legal.x), w: m.f32(legal.w), b: legal.bias ? m.f32([g.Cout]) : null, dy: m.f32([g.N, g.Cout, Ho, Wo]), opts: { stride: legal.stride, padding: legal.padding, relu: legal.relu } }),
    call: (rt, a) => (legal.backward ? rt.conv2dBackward(a.x as Tensor, a.w as Tensor, a.dy as Tensor, a.opts as object) : rt.conv2d(a.x as Tensor, a.w as Tensor, a.b as Tensor | null, a.opts as object)),
    check: (rt) => checkConv(rt, legal),
  };
}

function poolSubject(r: Rand): Subject & { legal: PoolProblem & { op: string } } {
  const op = pick(r, ['maxPool2d', 'avgPool2d', 'maxPool2dBackward', 'avgPool2dBackward'] as const), backward = op.endsWith('Backward');
  const legal = { ...genPool(r), op };
  const g = poolGeometry(legal.opts), ys = poolOutShape(legal.x, g), [, , H, W] = legal.x;
  const big: [number, number] = [H + 1, 1];
  const frac = notInt(r), noKernel = chance(r, 0.5) ? null : { stride: 1 }, stride0 = pick(r, [0, [1, -1]]), badPad = pick(r, [g.kernel, [-1, 0]]);
  const mutations: Mutation[] = [
    // the backward's dy dtype is not checked (see above): no dtype mutation for dy
    ...operandMutations(r, op, ['x', ...(backward ? ['dy'] : [])], { x: 'f32', dy: null })
      // avgPool2dBackward reads only x's shape, and takes another runtime's x (see above)
      .filter((mu) => !(op === 'avgPool2dBackward' && mu.kind === 'another runtime' && mu.detail === 'x')),
    { ...withShape('x', offRank(r, legal.x), 'rank'), pattern: new RegExp(`${op}: x must have rank 4`) },
    { kind: 'kernel 0', arg: 'kernel', pattern: new RegExp(`${op}: kernel must be at least 1`), apply: (a) => { a.opts = { ...(a.opts as object), kernel: [g.kernel[0], 0] }; } },
    { kind: 'kernel', arg: 'kernel', detail: String(frac), pattern: new RegExp(`${op} kernel must be an integer or \\[h, w\\] pair`), apply: (a) => { a.opts = { ...(a.opts as object), kernel: frac }; } },
    { kind: 'no kernel', arg: 'kernel', detail: noKernel, pattern: new RegExp(`${op}: options need a kernel size`), apply: (a) => { a.opts = noKernel; } },
    { kind: 'stride < 1', arg: 'stride', detail: stride0, pattern: new RegExp(`${op}: stride must be at least 1`), apply: (a) => { a.opts = { ...(a.opts as object), stride: stride0 }; } },
    { kind: 'padding outside [0, kernel)', arg: 'padding', detail: badPad, pattern: new RegExp(`${op}: padding must be in \\[0, kernel\\)`), apply: (a) => { a.opts = { ...(a.opts as object), padding: badPad }; } },
    { kind: 'kernel too large', arg: 'kernel', detail: big, pattern: new RegExp(`${op}: kernel \\[${big}\\] is larger than the padded input \\[${H},${W}\\]`), apply: (a) => { a.opts = { kernel: big, stride: 1 }; } },
    ...(backward ? [{ ...withShape('dy', [ys[0], ys[1], ys[2] + 1, ys[3]]), pattern: new RegExp(`${op}: dy must have shape \\[${ys}\\], got`) }] : []),
  ];
  const fns = {
    maxPool2d: (rt: Runtime, a: Args) => rt.maxPool2d(a.x as Tensor, a.opts as PoolOptions),
    avgPool2d: (rt: Runtime, a: Args) => rt.avgPool2d(a.x as Tensor, a.opts as PoolOptions),
    maxPool2dBackward: (rt: Runtime, a: Args) => rt.maxPool2dBackward(a.x as Tensor, a.dy as Tensor, a.opts as PoolOptions),
    avgPool2dBackward: (rt: Runtime, a: Args) => rt.avgPool2dBackward(a.x as Tensor, a.dy as Tensor, a.opts as PoolOptions),
  };
  return { op, legal, mutations, args: (m) => ({ x: m.f32(legal.x), dy: m.f32(ys), opts: legal.opts }), call: fns[op], check: (rt) => checkPool(rt, legal) };
}

function linearSubject(r: Rand): Subject & { legal: LinearProblem & { backward: boolean } } {
  const legal = { ...genLinear(r), backward: chance(r, 0.5) };
  const { n, fin, fout } = legal, op = legal.backward ? 'linearBackward' : 'linear';
  const mutations: Mutation[] = [
    ...operandMutations(r, op, ['x', 'w', ...(legal.backward ? ['dy'] : legal.bias ? ['b'] : [])], { x: 'f32', w: 'f32', b: 'f32', dy: 'f32' }, ['b']),
    { ...withShape('x', offRank(r, [n, fin]), 'rank'), pattern: new RegExp(`${op}: x must have rank 2`) },
    { ...withShape('w', offRank(r, [fout, fin]), 'rank'), pattern: new RegExp(`${op}: w must have rank 2`) },
    { ...withShape('w', [fout, fin + 1], 'features'), pattern: new RegExp(`${op}: x has ${fin} features but w \\[${fout},${fin + 1}\\] expects ${fin + 1}`) },
    ...(legal.backward ? [
      { ...withShape('dy', [n, fout + 1]), pattern: new RegExp(`linearBackward: dy must have shape \\[${n},${fout}\\], got`) },
      { ...withShape('dy', [n * fout], 'rank'), pattern: /linearBackward: dy must have rank 2/ },
    ] : [
      { ...withShape('b', [fout + 1]), pattern: new RegExp(`linear: b must have shape \\[${fout}\\], got \\[${fout + 1}\\]`) },
      { ...withShape('b', [fout, 1], 'rank'), pattern: /linear: b must have rank 1/ },
      { kind: 'over the device limit', arg: 'y', pattern: /linear y\[65536,32768\] needs \d+ bytes, over this device's limit/,
        apply: (a: Args, m: Makers) => { Object.assign(a, { x: m.f32([65536, 1]), w: m.f32([32768, 1]), b: null }); } },
    ]),
  ];
  return {
    op, legal, mutations,
    args: (m) => ({ x: m.f32([n, fin]), w: m.f32([fout, fin]), b: legal.bias ? m.f32([fout]) : null, dy: m.f32([n, fout]) }),
    call: (rt, a) => (legal.backward ? rt.linearBackward(a.x as Tensor, a.w as Tensor, a.dy as Tensor) : rt.linear(a.x as Tensor, a.w as Tensor, a.b as Tensor | null)),
    check: (rt) => checkLinear(rt, legal),
  };
}

function reluSubject(r: Rand): Subject & { legal: ReluProblem & { backward: boolean } } {
  const legal = { ...genRelu(r), backward: chance(r, 0.5) }, op = legal.backward ? 'reluBackward' : 'relu';
  const other = legal.shape.length > 1 ? [...legal.shape].reverse() : [legal.shape[0]! + 1];
  const same = JSON.stringify(other) === JSON.stringify(legal.shape) ? [...legal.shape, 2] : other;
  return {
    op, legal,
    // reluBackward checks neither dtype (see above)
    mutations: [
      // (relu(null) is not named either, see above: no null x for relu)
      ...operandMutations(r, op, legal.backward ? ['dy', 'x'] : ['x'], { x: legal.backward ? null : 'f32', dy: null }, legal.backward ? [] : ['x']),
      ...(legal.backward ? [{ ...withShape('dy', same), pattern: new RegExp(`reluBackward: dy has shape \\[${same}\\] but x has shape \\[${legal.shape}\\]`) }] : []),
    ],
    args: (m) => ({ x: m.f32(legal.shape), dy: m.f32(legal.shape) }),
    call: (rt, a) => (legal.backward ? rt.reluBackward(a.x as Tensor, a.dy as Tensor) : rt.relu(a.x as Tensor)),
    check: (rt) => checkRelu(rt, legal),
  };
}

function softmaxSubject(r: Rand): Subject & { legal: SoftmaxProblem & { backward: boolean } } {
  let legal = { ...genSoftmax(r), backward: chance(r, 0.5) };
  while (legal.n > 9) legal = { ...genSoftmax(r), backward: legal.backward };
  const { n, c } = legal, op = legal.backward ? 'softmaxCrossEntropyBackward' : 'softmaxCrossEntropy';
  const row = int(r, 0, n - 1), label = pick(r, [c, c + 3, -1]);
  const labels = (m: Makers, v?: number) => { const l = new Int32Array(n); if (v !== undefined) l[row] = v; return m.tensor(l, [n]); };
  return {
    op, legal,
    mutations: [
      ...operandMutations(r, op, ['logits', 'labels'], { logits: 'f32', labels: 'i32' }),
      { ...withShape('logits', offRank(r, [n, c]), 'rank'), pattern: new RegExp(`${op}: logits must have rank 2`) },
      { kind: 'labels count', arg: 'labels', pattern: new RegExp(`${op}: labels must have shape \\[${n}\\] \\(one per row of logits\\)`), apply: (a, m) => { a.labels = m.tensor(new Int32Array(n + 1), [n + 1]); } },
      {
        kind: 'labels [n, 1]', arg: 'labels', pattern: new RegExp(`${op}: labels must have shape \\[${n}\\] \\(one per row of logits\\), got \\[${n},1\\]`),
        apply: (a, m) => { a.labels = m.tensor(new Int32Array(n), [n, 1]); },
      },
      { kind: 'label out of range', arg: 'label', detail: [row, label], pattern: new RegExp(`${op}: label ${label} at row ${row} is out of range \\[0, ${c}\\)`), apply: (a, m) => { a.labels = labels(m, label); } },
    ],
    args: (m) => ({ logits: m.f32([n, c]), labels: labels(m) }),
    call: (rt, a) => (legal.backward ? rt.softmaxCrossEntropyBackward(a.logits as Tensor, a.labels as Tensor) : rt.softmaxCrossEntropy(a.logits as Tensor, a.labels as Tensor)),
    check: (rt) => checkSoftmax(rt, legal),
  };
}

/** rt.tensor and rt.write: bad data or shapes (the legal problem: a relu of that shape). */
function tensorSubject(r: Rand): Subject & { legal: ReluProblem } {
  const legal = genRelu(r), n = size(legal.shape), at = int(r, 0, n - 1), bad = pick(r, [NaN, Infinity, -Infinity]);
  const withBad = () => { const v = new Float32Array(n); v[at] = bad; return v; };
  const badShape = pick(r, [[...legal.shape, 0], [-n], [n + 0.5], [NaN]]), plain = chance(r, 0.5);
  const m: Mutation[] = [
    { kind: 'non-finite data', arg: 'data', detail: [String(bad), at], pattern: new RegExp(`tensor data has a non-finite value \\(${bad}\\) at index ${at}`), apply: (a) => { a.fn = 'tensor'; a.data = withBad(); } },
    { kind: 'data length', arg: 'data', pattern: new RegExp(`tensor data has ${n + 1} elements but shape \\[${legal.shape}\\] needs ${n}`), apply: (a) => { a.fn = 'tensor'; a.data = new Float32Array(n + 1); } },
    {
      kind: 'data type', arg: 'data', detail: plain ? 'number[]' : 'Float64Array', pattern: /tensor data must be a Float32Array, Int32Array or Uint32Array/,
      apply: (a) => { a.fn = 'tensor'; a.data = plain ? Array.from({ length: n }, () => 1) : new Float64Array(n); },
    },
    { kind: 'shape', arg: 'shape', detail: String(badShape), pattern: /tensor shape .* has a dimension that is not a positive integer/, apply: (a) => { a.fn = 'tensor'; a.shape = badShape; } },
    { kind: 'empty shape', arg: 'shape', pattern: /tensor shape must be a non-empty array/, apply: (a) => { a.fn = 'tensor'; a.shape = []; } },
    { kind: 'write non-finite data', arg: 'data', detail: [String(bad), at], pattern: new RegExp(`write data has a non-finite value \\(${bad}\\) at index ${at}`), apply: (a) => { a.fn = 'write'; a.data = withBad(); } },
    { kind: 'write length', arg: 'data', pattern: new RegExp(`write: tensor \\[${legal.shape}\\] has ${n} elements, data has ${n + 2}`), apply: (a) => { a.fn = 'write'; a.data = new Float32Array(n + 2); } },
    { kind: 'write dtype', arg: 'data', pattern: new RegExp(`write: tensor \\[${legal.shape}\\] is f32, data is i32`), apply: (a) => { a.fn = 'write'; a.data = new Int32Array(n); } },
  ];
  return {
    op: 'tensor', legal, mutations: m,
    args: (mk) => ({ shape: legal.shape, t: mk.tensor(randn(n, legal.seed), legal.shape) }),
    call: (rt, a) => (a.fn === 'write' ? rt.write(a.t as Tensor, a.data as TypedArray) : rt.tensor(a.data as TypedArray, a.shape as number[])),
    check: (rt) => checkRelu(rt, legal),
  };
}

const SUBJECTS: Record<string, (r: Rand) => Subject & { legal: unknown }> = {
  fwht: fwhtSubject, fastfood: fastfoodSubject, conv2d: convSubject, pool: poolSubject, linear: linearSubject, relu: reluSubject, softmax: softmaxSubject, tensor: tensorSubject,
};
const RUN = Symbol('run');
type Drawn = IllegalProblem & { [RUN]: { s: Subject; mu: Mutation } };
function genIllegal(r: Rand): Drawn {
  const s = SUBJECTS[pick(r, Object.keys(SUBJECTS))]!(r), mu = pick(r, s.mutations);
  return { op: s.op, legal: s.legal, kind: mu.kind, arg: mu.arg, ...(mu.detail === undefined ? {} : { detail: mu.detail }), [RUN]: { s, mu } };
}
const ARRAYS = { f32: Float32Array, i32: Int32Array, u32: Uint32Array } as const;
async function checkIllegal(rt: Runtime, second: () => Promise<Runtime>, p: Drawn): Promise<void> {
  const { s, mu } = p[RUN];
  const other = p.kind.includes('another runtime') ? await second() : undefined;
  const made: Tensor[] = [];
  const track = (t: Tensor) => { made.push(t); return t; };
  const m: Makers = {
    f32: (shape) => track(rt.tensor(new Float32Array(size(shape)), shape)),
    tensor: (data, shape) => track(rt.tensor(data, shape)),
    foreign: (t) => track(other!.tensor(t.host?.slice() ?? new ARRAYS[t.dtype](t.size), t.shape)),
    disposed: (t) => { const c = rt.tensor(new ARRAYS[t.dtype](t.size), t.shape); c.dispose(); return c; },
  };
  try {
    const a = s.args(m);
    mu.apply(a, m);
    await rt.sync();
    const inUse = () => { const st = rt.stats(); return st.liveBuffers - st.pooledBuffers; };
    const before = inUse();
    let msg: string | undefined;
    try {
      disposeAll(s.call(rt, a));
    } catch (e) {
      msg = e instanceof Error ? e.message : `a non-Error: ${String(e)}`;
    }
    if (msg === undefined) throw new Error(`${s.op} did not throw (expected ${mu.pattern})`);
    if (mu.arg !== null && !word(mu.arg).test(msg)) throw new Error(`threw "${msg}", which does not name the argument ${mu.arg}`);
    if (!mu.pattern.test(msg)) throw new Error(`threw "${msg}", expected a message matching ${mu.pattern}`);
    await rt.sync();
    expectEqual(inUse(), before, 'GPU buffers in use after the failed call');
    if (a.fn === 'write') {
      const t = a.t as Tensor;
      expectClose(await read(t), randn(t.size, (p.legal as ReluProblem).seed), exact, 'the tensor a failed write() was aimed at');
    }
  } finally {
    for (const t of made) t.dispose();
  }
  await s.check(rt); // and the runtime computes the legal problem
}
/** The illegal-argument family, with a second runtime on rt's device for foreign tensors. */
async function fuzzIllegal(rt: Runtime, count: number): Promise<void> {
  let other: Runtime | undefined;
  try {
    await fuzz(rt, 'illegal', count, genIllegal, (p) => checkIllegal(rt, async () => (other ??= await createRuntime({ device: rt.device })), p));
  } finally {
    other?.destroy();
  }
}

// ------------------------------------------------------------------ cases
export const fuzzCases: GpuCase[] = [
  ...(Object.keys(OPS) as OpFamily[]).map((f): GpuCase => ({
    name: `fuzz: ${f}: random ${OPS[f].what} vs float64 references`,
    run: (rt) => (f === 'fastfood' ? fuzzFastfood(rt, plan.per[f]) : fuzz(rt, f, plan.per[f], OPS[f].gen, (p) => OPS[f].check(rt, p as never))),
  })),
  {
    name: 'fuzz: models: random small Sequential nets, each compiled training step (SGD/Adam) = eager ops + float64 optimizer references',
    run: (rt) => fuzz(rt, 'model', plan.models, genModel, (p) => checkModel(rt, p)),
  },
  {
    name: 'fuzz: illegal: random bad arguments (ranks, shapes, dtypes, non-finite data, disposed or foreign tensors, non-permutations, '
      + 'sizes over the limits) each throw naming the argument; the runtime computes afterwards',
    run: (rt) => fuzzIllegal(rt, plan.illegal),
  },
];
