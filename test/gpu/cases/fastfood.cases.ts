import type { Runtime } from '../../../src/api.js';
import type { Tensor } from '../../../src/gpu/runtime.js';
import { createRuntime } from '../../../src/api.js';
import { encodeFastfood, encodeFastfoodBackward, fastfoodShape } from '../../../src/ops/fastfood.js';
import { fastfoodInit } from '../../../src/nn/layers.js';
import { seeded } from '../../../src/util/random.js';
import { rowTuning } from '../../../src/ops/fwht.js';
import { RowCode, rowGeometry } from '../../../kernels/fwht.wgsl.js';
import { fastfoodForwardKernel } from '../../../kernels/fastfood.wgsl.js';
import type { FastfoodParams } from '../../../src/ops/types.js';
import { fastfoodBackwardRef, fastfoodRef, type FastfoodRefParams } from '../../../src/reference/fastfood.js';
import { fwhtRef } from '../../../src/reference/fwht.js';
import { expectClose, expectEqual, expectThrows, randn, rng, withTuning, type GpuCase, type Tolerance } from '../harness.js';

const U = 2 ** -24;
const rms = (v: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! ** 2;
  return Math.sqrt(s / v.length);
};
/** Two depth-log2(d) butterfly networks and three products (plus `sums` accumulated terms for
 * batch sums): a few units of roundoff per level, relative to the typical magnitude. */
const tolFor = (ref: ArrayLike<number>, d: number, sums = 0): Tolerance =>
  ({ atol: 4 * U * (2 * Math.log2(d) + 3 + sums) * rms(ref), rtol: 0 });

function randomPerm(blocks: number, d: number, seed: number): Uint32Array {
  const r = rng(seed), p = new Uint32Array(blocks * d);
  for (let k = 0; k < blocks; k++) {
    const q = Array.from({ length: d }, (_, i) => i);
    for (let i = d - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [q[i], q[j]] = [q[j]!, q[i]!]; }
    p.set(q, k * d);
  }
  return p;
}

interface Problem { n: number; inF: number; d: number; blocks: number; out: number }
interface Setup {
  xs: Float32Array; dys: Float32Array; ref: FastfoodRefParams;
  x: Tensor; dy: Tensor; p: FastfoodParams; dispose(): void;
}

function setup(rt: Runtime, { n, inF, d, blocks, out }: Problem, permTensor = false): Setup {
  const seed = n * 7 + d * 13 + blocks;
  const B = randn(blocks * d, seed), G = randn(blocks * d, seed + 1), S = randn(blocks * d, seed + 2);
  const perm = randomPerm(blocks, d, seed + 3);
  const xs = randn(n * inF, seed + 4), dys = randn(n * out, seed + 5);
  const ts = [rt.tensor(B, [blocks, d]), rt.tensor(G, [blocks, d]), rt.tensor(S, [blocks, d])];
  const pt = permTensor ? rt.tensor(perm, [blocks, d]) : null;
  const x = rt.tensor(xs, [n, inF]), dy = rt.tensor(dys, [n, out]);
  return {
    xs, dys, x, dy,
    ref: { B, G, S, perm, blocks, d, outFeatures: out },
    p: { B: ts[0]!, G: ts[1]!, S: ts[2]!, perm: pt ?? perm, outFeatures: out },
    dispose() { for (const t of [...ts, x, dy, ...(pt ? [pt] : [])]) t.dispose(); },
  };
}

async function checkAgainstReference(rt: Runtime, pr: Problem, what: string, permTensor = false, forwardOnly = false): Promise<void> {
  const s = setup(rt, pr, permTensor);
  const y = await rt.fastfood(s.x, s.p);
  const ref = fastfoodRef(s.xs, pr.n, pr.inF, s.ref);
  expectClose(await y.read(), ref.y, tolFor(ref.y, pr.d), `${what} y`);
  if (forwardOnly) {
    y.dispose();
    s.dispose();
    return;
  }
  const g = await rt.fastfoodBackward(s.x, s.p, s.dy);
  const gr = fastfoodBackwardRef(s.xs, pr.n, pr.inF, s.ref, s.dys);
  expectClose(await g.dx.read(), gr.dx, tolFor(gr.dx, pr.d, pr.blocks), `${what} dx`);
  for (const k of ['dB', 'dG', 'dS'] as const) expectClose(await g[k].read(), gr[k], tolFor(gr[k], pr.d, pr.n), `${what} ${k}`);
  for (const t of [y, g.dx, g.dB, g.dG, g.dS]) t.dispose();
  s.dispose();
}

type Options = { path?: 'multipass'; scalarMultipass?: boolean; splitRows?: boolean; targetWorkgroups?: number; maxRegisters?: number; swizzle?: boolean; subgroups?: boolean };
/** A runtime with these fastfood and row choices (on rt's device) for `f`. */
function withOptions(rt: Runtime, o: Options, f: (rt: Runtime) => Promise<void>): Promise<void> {
  const { path, scalarMultipass, splitRows, ...rows } = o;
  return withTuning(rt, {
    fastfood: { path, splitRows, vec4Multipass: scalarMultipass === undefined ? undefined : !scalarMultipass },
    rows,
  }, f);
}

const name = (p: Problem) => `n=${p.n} in=${p.inF} d=${p.d} blocks=${p.blocks} out=${p.out}`;
const sweep: Problem[] = [
  { n: 1, inF: 2, d: 2, blocks: 1, out: 2 },
  { n: 3, inF: 3, d: 4, blocks: 2, out: 7 },
  { n: 7, inF: 5, d: 8, blocks: 3, out: 20 },
  { n: 3, inF: 50, d: 64, blocks: 2, out: 100 },
  { n: 1, inF: 64, d: 64, blocks: 1, out: 64 },
  { n: 7, inF: 1000, d: 1024, blocks: 2, out: 1500 },
  { n: 3, inF: 7000, d: 8192, blocks: 1, out: 8191 },
  // the split-row case's scalar problem: its forward kernel (a large one, 15–40 s to compile on
  // SwiftShader with the CPU tuning) is then compiled once for both cases
  { n: 2, inF: 9001, d: 16384, blocks: 2, out: 17385 },
  { n: 1, inF: 1000001, d: 2 ** 20, blocks: 1, out: 2 ** 20 - 5 },
];

/** Finite differences of Σ dy ⊙ fastfood(x) on the GPU. The layer is linear in each of x, B, G
 * and S, so a central difference with a large step is exact up to the rounding of the loss. */
async function finiteDifferences(rt: Runtime, pr: Problem, samples: number): Promise<void> {
  const s = setup(rt, pr);
  const g = await rt.fastfoodBackward(s.x, s.p, s.dy);
  const h = 1;
  const loss = async (x: Tensor, p: FastfoodParams) => {
    const y = await rt.fastfood(x, p), ys = await y.read();
    y.dispose();
    let l = 0, l2 = 0;
    for (let i = 0; i < ys.length; i++) { l += ys[i]! * s.dys[i]!; l2 += (ys[i]! * s.dys[i]!) ** 2; }
    return { l, scale: Math.sqrt(l2) };
  };
  const r = rng(pr.d + pr.n);
  const probe = async (label: string, host: Float32Array, shape: number[], grad: Float32Array, use: (t: Tensor) => [Tensor, FastfoodParams]) => {
    const idx = host.length <= samples ? host.map((_, i) => i) : Array.from({ length: samples }, () => Math.floor(r() * host.length));
    for (const i of idx) {
      const v = host[i]!, vals: number[] = [];
      let sc = 0;
      for (const dlt of [h, -h]) {
        const c = host.slice(); c[i] = v + dlt;
        const t = rt.tensor(c, shape);
        const { l, scale } = await loss(...use(t));
        t.dispose();
        vals.push(l); sc = Math.max(sc, scale);
      }
      const fd = (vals[0]! - vals[1]!) / (2 * h);
      const tol = 8 * U * (2 * Math.log2(pr.d) + 3) * sc / h + 4 * U * Math.abs(fd) * (2 * Math.log2(pr.d) + 3 + pr.n);
      if (!(Math.abs(fd - grad[i]!) <= tol)) throw new Error(`finite differences: ${label}[${i}] = ${grad[i]} but the GPU forward gives ${fd} (tol ${tol})`);
    }
  };
  const dx = await g.dx.read() as Float32Array;
  await probe('dx', s.xs, [pr.n, pr.inF], dx, (t) => [t, s.p]);
  for (const k of ['B', 'G', 'S'] as const) {
    const host = s.ref[k] as Float32Array;
    await probe(`d${k}`, host, [pr.blocks, pr.d], await g[`d${k}`].read() as Float32Array, (t) => [s.x, { ...s.p, [k]: t }]);
  }
  for (const t of [g.dx, g.dB, g.dG, g.dS]) t.dispose();
  s.dispose();
}

export const fastfoodCases: GpuCase[] = [
  {
    name: 'fastfood: recorded into a caller\'s own encoder on caller-owned buffers (fwd, then bwd), release() frees what it held',
    async run(rt) {
      // What a framework does: its own device, buffers, encoder and submit; deepfried only records.
      const dev = rt.device, n = 3, inF = 40, outF = 100;
      const f = fastfoodInit(inF, outF, seeded(9)), shape = [f.blocks, f.d];
      const xs = randn(n * inF, 6), gs = randn(n * outF, 7);
      const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
      const mine: GPUBuffer[] = [];
      const buf = (bytes: number, data?: Float32Array | Uint32Array) => {
        const b = dev.createBuffer({ size: bytes, usage });
        if (data) dev.queue.writeBuffer(b, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
        mine.push(b);
        return b;
      };
      const fw = await createRuntime({ device: dev });
      try {
        // buffers in use: live ones not waiting in the pool for reuse
        const inUse = () => { const st = fw.stats(); return st.liveBuffers - st.pooledBuffers; };
        const held = inUse();
        const x = fw.wrap(buf(xs.byteLength, xs), [n, inF]), dy = fw.wrap(buf(gs.byteLength, gs), [n, outF]);
        const p = { B: fw.wrap(buf(f.B.byteLength, f.B), shape), G: fw.wrap(buf(f.G.byteLength, f.G), shape),
          S: fw.wrap(buf(f.S.byteLength, f.S), shape), perm: fw.wrap(buf(f.perm.byteLength, f.perm), shape, 'u32'), outFeatures: outF };
        const y = fw.wrap(buf(n * outF * 4), [n, outF]);
        const saved = { a3: fw.wrap(buf(n * f.blocks * f.d * 4), [n, f.blocks, f.d]), a5: fw.wrap(buf(n * f.blocks * f.d * 4), [n, f.blocks, f.d]) };
        const g = { dx: fw.wrap(buf(n * inF * 4), [n, inF]), dB: fw.wrap(buf(f.B.byteLength), shape), dG: fw.wrap(buf(f.B.byteLength), shape), dS: fw.wrap(buf(f.B.byteLength), shape) };
        const enc = dev.createCommandEncoder();
        const fwd = await fw.record(enc, 'fastfood', (ctx) => encodeFastfood(ctx, x, p, y, saved));
        const bwd = await fw.record(enc, 'fastfood backward', (ctx) => encodeFastfoodBackward(ctx, x, p, dy, saved, g));
        expectEqual(inUse() > held, true, 'uniforms and scratch are held until release()');
        dev.queue.submit([enc.finish()]);
        fwd.release();
        bwd.release();
        expectEqual(inUse(), held, 'release() freed the uniforms and scratch');
        const ref = fastfoodRef(xs, n, inF, { ...f, outFeatures: outF });
        const refG = fastfoodBackwardRef(xs, n, inF, { ...f, outFeatures: outF }, gs);
        expectClose(await y.read(), ref.y, tolFor(ref.y, f.d), 'y');
        expectClose(await g.dx.read(), refG.dx, tolFor(refG.dx, f.d), 'dx');
        expectClose(await g.dS.read(), refG.dS, tolFor(refG.dS, f.d, n), 'dS');
        // A bad shape throws from record() and leaves nothing behind.
        await expectThrows(() => fw.record(dev.createCommandEncoder(), 'fastfood', (ctx) => encodeFastfood(ctx, x, p, x)), /\by\b.*\[3,100\]/, 'wrong y shape');
        expectEqual(inUse(), held, 'nothing left after a failed record()');
      } finally {
        fw.destroy();
        for (const b of mine) b.destroy();
      }
    },
  },
  ...sweep.map((pr): GpuCase => ({
    name: `fastfood fwd+bwd vs float64 reference ${name(pr)}`,
    run: (rt) => checkAgainstReference(rt, pr, `fastfood ${name(pr)}`),
  })),
  {
    name: 'fastfood multi-pass path on short rows (4 and 1 elements per invocation), perm as a u32 tensor',
    run: async (rt) => {
      // inF, outF multiples of 4 or not: each kernel in its vec4 and its scalar form; d = 2 has no vec4 form
      const problems = [{ n: 7, inF: 5, d: 8, blocks: 3, out: 20 }, { n: 3, inF: 50, d: 64, blocks: 2, out: 100 },
        { n: 5, inF: 48, d: 64, blocks: 2, out: 90 }, { n: 3, inF: 2, d: 2, blocks: 3, out: 5 }];
      for (const scalarMultipass of [false, true]) {
        await withOptions(rt, { path: 'multipass', scalarMultipass }, async (rt) => {
          for (const pr of problems) await checkAgainstReference(rt, pr, `fastfood multipass${scalarMultipass ? ' scalar' : ''} ${name(pr)}`, true);
        });
      }
    },
  },
  {
    name: 'fastfood forward of rows twice workgroup memory (d = 16384): one pass, half a row at a time (CPU and GPU tunings, scalar and vec4 rows), or the multi-pass path',
    run: async (rt) => {
      const d = 2 * Math.min(8192, rt.limits.maxComputeWorkgroupStorageSize / 4);
      // the kernels encodeFastfood picks (scratch freed again)
      const kernels = (rt: Runtime, pr: Problem) => {
        const s = setup(rt, pr, true), y = rt.empty([pr.n, pr.out]), scratch: Tensor[] = [];
        const ctx = rt.contextWith((sh: readonly number[]) => { const t = rt.empty(sh); scratch.push(t); return t; });
        const names = encodeFastfood(ctx, s.x, s.p as FastfoodParams & { perm: Tensor }, y).map((k) => k.kernel.name);
        for (const t of [...scratch, y]) t.dispose();
        s.dispose();
        return names;
      };
      const scalar = { n: 2, inF: d / 2 + 809, d, blocks: 2, out: d + 1001 }, vec = { n: 3, inF: d / 2 + 1024, d, blocks: 1, out: d - 4 };
      for (const [o, pr, what] of [[{ splitRows: true }, scalar, 'CPU tuning'], [{ splitRows: true, maxRegisters: 32, swizzle: true, targetWorkgroups: 1024 }, vec, 'GPU tuning'],
        [{ splitRows: false }, vec, 'multi-pass']] as const) {
        await withOptions(rt, o, async (rt) => {
          const names = kernels(rt, pr);
          expectEqual(names.length === 1 && names[0]!.startsWith('fastfood_fwd_split'), o.splitRows, `${what}: one split-row kernel (${names.join(', ')})`);
          // forward only: the split rows are an inference path; training at this d is the sweep's case
          await checkAgainstReference(rt, pr, `fastfood split rows ${what} ${name(pr)}`, false, true);
        });
      }
    },
  },
  ...[2, 1024].map((target): GpuCase => ({
    name: `fastfood and fwht aiming at ${target} workgroups (${target === 2 ? 'many rows per workgroup, as on a CPU adapter' : 'one row per workgroup, 32 values per invocation, swizzled workgroup memory, as on a GPU'})`,
    run: (rt) => withOptions(rt, { targetWorkgroups: target, maxRegisters: target === 2 ? 0 : 32, swizzle: target !== 2 }, async (rt) => {
      const gpuOnly = target === 2 ? [] : [{ n: 3, inF: 2000, d: 2048, blocks: 1, out: 2047 }];
      for (const pr of [{ n: 150, inF: 5, d: 8, blocks: 3, out: 20 }, { n: 37, inF: 50, d: 64, blocks: 2, out: 100 }, { n: 9, inF: 1000, d: 1024, blocks: 1, out: 999 }, ...gpuOnly]) {
        await checkAgainstReference(rt, pr, `fastfood target ${target} ${name(pr)}`);
      }
      const xs = randn(37 * 64, 3), x = rt.tensor(xs, [37, 64]), y = await rt.fwht(x), ref = fwhtRef(xs, 64);
      expectClose(await y.read(), ref, { atol: 4 * U * 6 * rms(ref), rtol: 0 }, `fwht target ${target}`);
      x.dispose(); y.dispose();
    }),
  })),
  ...[true, false].map((subgroups): GpuCase => ({
    name: `fastfood and fwht ${subgroups ? 'with butterflies across subgroup lanes' : 'without subgroups'} (4–8 values per invocation: 3–5 phases; rows ending in layouts other than C)`,
    run: (rt) => withOptions(rt, { targetWorkgroups: 2, maxRegisters: 4, subgroups }, async (rt) => {
      // the path under test is the one the kernels take
      for (const d of [64, 1024, 2048]) {
        const t = rowTuning(rt, d), c = new RowCode(rowGeometry(d, t), t.swizzle, t.lanes);
        expectEqual(c.usesSubgroups, subgroups && rt.subgroupLanes > 0, `d=${d}: kernels shuffle across lanes`);
        expectEqual(fastfoodForwardKernel(d, true, rt.limits.maxComputeWorkgroupStorageSize, t).code.includes('subgroupShuffleXor'), c.usesSubgroups, `d=${d}: fused forward WGSL`);
      }
      for (const pr of [{ n: 5, inF: 50, d: 64, blocks: 2, out: 100 }, { n: 9, inF: 1000, d: 1024, blocks: 2, out: 2000 }, { n: 5, inF: 1500, d: 2048, blocks: 1, out: 2048 }]) {
        await checkAgainstReference(rt, pr, `fastfood ${subgroups ? 'lanes' : 'no subgroups'} ${name(pr)}`);
      }
      for (const d of [64, 1024]) {
        const xs = randn(13 * d, d), x = rt.tensor(xs, [13, d]), y = await rt.fwht(x, { scale: 0.5 }), ref = fwhtRef(xs, d, 0.5);
        expectClose(await y.read(), ref, { atol: 4 * U * Math.log2(d) * rms(ref), rtol: 0 }, `fwht d=${d} ${subgroups ? 'lanes' : 'no subgroups'}`);
        x.dispose(); y.dispose();
      }
    }),
  })),
  {
    name: 'fastfood backward: finite differences of the GPU forward (d=4, every entry)',
    run: (rt) => finiteDifferences(rt, { n: 2, inF: 3, d: 4, blocks: 2, out: 7 }, 1e9),
  },
  {
    name: 'fastfood backward: finite differences of the GPU forward (d=64, sampled entries)',
    run: (rt) => finiteDifferences(rt, { n: 2, inF: 40, d: 64, blocks: 2, out: 100 }, 6),
  },
  {
    name: 'fastfood: bad inputs are named',
    async run(rt) {
      const s = setup(rt, { n: 2, inF: 5, d: 8, blocks: 2, out: 12 });
      const { x, p, dy } = s;
      const t = (shape: number[], data?: Float32Array | Uint32Array) => rt.tensor(data ?? new Float32Array(shape[0]! * shape[1]!), shape);
      const extra: Tensor[] = [];
      const tmp = (shape: number[], data?: Float32Array | Uint32Array) => { const v = t(shape, data); extra.push(v); return v; };
      const B12 = tmp([2, 12]);
      await expectThrows(() => rt.fastfood(x, { ...p, B: B12, G: tmp([2, 12]), S: tmp([2, 12]), perm: new Uint32Array(24) }), /d \(the last axis of B\) must be a power of two ≥ 2, got 12/, 'd = 12');
      await expectThrows(() => rt.fastfood(tmp([2, 9]), p), /inFeatures \(9\) must be ≤ d \(8\)/, 'inFeatures > d');
      const rep = new Uint32Array(16).map((_, i) => i % 8); rep[11] = 2;
      await expectThrows(() => rt.fastfood(x, { ...p, perm: rep }), /perm is not a permutation: block 1 repeats 2/, 'perm repeats');
      const big = new Uint32Array(16).map((_, i) => i % 8); big[3] = 8;
      await expectThrows(() => rt.fastfood(x, { ...p, perm: big }), /perm is not a permutation: block 0 has entry 8/, 'perm out of range');
      await expectThrows(() => rt.fastfood(x, { ...p, perm: new Uint32Array(8) }), /perm has 8 entries but needs blocks·d = 16/, 'perm length');
      await expectThrows(() => rt.fastfood(x, { ...p, perm: tmp([2, 8]) }), /perm must be a u32 \(or i32\) tensor, got f32/, 'perm dtype');
      await expectThrows(() => rt.fastfood(x, { ...p, outFeatures: 17 }), /outFeatures \(17\) must be ≤ blocks·d \(2·8 = 16\)/, 'outFeatures');
      await expectThrows(() => rt.fastfood(x, { ...p, G: tmp([1, 8]) }), /G has shape \[1,8\] but B has shape \[2,8\]/, 'G shape');
      await expectThrows(() => rt.fastfood(x, { ...p, S: tmp([2, 4]) }), /S has shape \[2,4\] but B has shape \[2,8\]/, 'S shape');
      const flat = rt.tensor(new Float32Array(5), [5]); extra.push(flat);
      await expectThrows(() => rt.fastfood(flat, p), /x must have rank 2/, 'x rank');
      await expectThrows(() => rt.fastfoodBackward(x, p, tmp([2, 11])), /dy must have shape \[2,12\], got \[2,11\]/, 'dy shape');
      const gone = t([2, 8]); gone.dispose();
      await expectThrows(() => rt.fastfood(x, { ...p, S: gone }), /S was used after dispose/, 'disposed S');
      await expectThrows(() => Promise.resolve(fastfoodShape([3, 5], { blocks: 1, d: 6, inFeatures: 5, outFeatures: 6 })), /d must be a power of two ≥ 2, got 6/, 'shape-only d');
      const sh = fastfoodShape([3, 5], { blocks: 2, d: 8, inFeatures: 5, outFeatures: 13 });
      if (sh.n !== 3 || sh.d !== 8 || sh.blocks !== 2) throw new Error(`fastfoodShape gave ${JSON.stringify(sh)}`);
      for (const v of extra) v.dispose();
      dy.dispose();
      s.dispose();
    },
  },
];
