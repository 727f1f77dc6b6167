import type { Runtime } from '../../../src/api.js';
import type { Tensor } from '../../../src/gpu/runtime.js';
import { GraphBuilder } from '../../../src/graph/graph.js';
import { encodeConv2dBackward } from '../../../src/ops/conv2d.js';
import { conv2dBackwardRef, conv2dRef, convOut, type ConvGeometry } from '../../../src/reference/conv2d.js';
import { expectClose, expectEqual, expectThrows, randn, withTuning, type GpuCase } from '../harness.js';

type Shape4 = [number, number, number, number];
interface ConvCase { x: Shape4; w: Shape4; s?: [number, number]; p?: [number, number]; bias?: boolean; relu?: boolean }

const geometry = (c: ConvCase): ConvGeometry => {
  const [N, Cin, H, W] = c.x, [Cout, , kh, kw] = c.w, [sh, sw] = c.s ?? [1, 1], [ph, pw] = c.p ?? [0, 0];
  return { N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw };
};
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
/** f32 sums of `terms` products of O(1) values: allow a generous multiple of the rounding error. */
const tol = (terms: number) => ({ atol: 2e-6 * terms + 1e-6, rtol: 1e-4 });

async function checkAgainstReference(rt: Runtime, c: ConvCase, seed: number): Promise<void> {
  const g = geometry(c);
  const [Ho, Wo] = convOut(g);
  const xs = randn(size(c.x), seed), ws = randn(size(c.w), seed + 1), bs = randn(g.Cout, seed + 2), dys = randn(g.N * g.Cout * Ho * Wo, seed + 3);
  const x = rt.tensor(xs, c.x), w = rt.tensor(ws, c.w), b = c.bias ? rt.tensor(bs, [g.Cout]) : null;
  const dy = rt.tensor(dys, [g.N, g.Cout, Ho, Wo]);
  const opts = { stride: c.s, padding: c.p, relu: c.relu };
  const made: Tensor[] = [];
  try {
    const y = await rt.conv2d(x, w, b, opts);
    made.push(y);
    expectEqual(y.shape, [g.N, g.Cout, Ho, Wo], 'y shape');
    expectClose(await y.read(), conv2dRef(g, xs, ws, c.bias ? bs : null, c.relu), tol(g.Cin * g.kh * g.kw), 'y');
    const grads = await rt.conv2dBackward(x, w, dy, { stride: c.s, padding: c.p });
    made.push(grads.dx, grads.dw, grads.db);
    const ref = conv2dBackwardRef(g, xs, ws, dys);
    expectClose(await grads.dx.read(), ref.dx, tol(g.Cout * g.kh * g.kw), 'dx');
    expectClose(await grads.dw.read(), ref.dw, tol(g.N * Ho * Wo), 'dw');
    expectClose(await grads.db.read(), ref.db, tol(g.N * Ho * Wo), 'db');
  } finally {
    for (const t of [x, w, dy, ...(b ? [b] : []), ...made]) t.dispose();
  }
}

const sweep: ConvCase[] = [
  { x: [1, 3, 5, 5], w: [5, 3, 1, 1] },
  { x: [3, 5, 7, 9], w: [6, 5, 3, 3], p: [1, 1], bias: true, relu: true },
  { x: [2, 3, 9, 7], w: [7, 3, 3, 2], s: [2, 2], p: [1, 0], bias: true },
  { x: [1, 2, 11, 10], w: [3, 2, 5, 4], s: [3, 3], p: [2, 2] },
  { x: [3, 1, 6, 6], w: [2, 1, 5, 5], relu: true },
  { x: [2, 4, 5, 5], w: [3, 4, 5, 5], bias: true },
  { x: [1, 3, 3, 4], w: [5, 3, 3, 4], s: [2, 2] },
  { x: [1, 7, 8, 8], w: [9, 7, 2, 2], s: [2, 2], bias: true, relu: true },
  { x: [2, 6, 13, 11], w: [10, 6, 3, 5], s: [1, 2], p: [2, 1], bias: true },
  { x: [1, 3, 4, 4], w: [2, 3, 3, 3], s: [3, 3], p: [2, 2] },
  { x: [1, 2, 7, 7], w: [3, 2, 1, 1], s: [2, 2], p: [1, 1], bias: true },
  { x: [5, 9, 6, 5], w: [13, 9, 4, 3], s: [1, 1], p: [2, 0], relu: true },
];

const name = (c: ConvCase) => `conv2d fwd+bwd x[${c.x}] w[${c.w}] s[${c.s ?? [1, 1]}] p[${c.p ?? [0, 0]}]${c.bias ? ' bias' : ''}${c.relu ? ' relu' : ''}`;

/** L = Σ dy ⊙ conv2d(x, w, b) is linear in each of x, w, b, so a central difference with a large step is
 * exact up to f32 rounding of y: compare it with the GPU backward at a few coordinates. */
async function finiteDifferences(rt: Runtime, c: ConvCase): Promise<void> {
  const g = geometry(c);
  const [Ho, Wo] = convOut(g);
  const xs = randn(size(c.x), 11), ws = randn(size(c.w), 12), bs = randn(g.Cout, 13), dys = randn(g.N * g.Cout * Ho * Wo, 14);
  const opts = { stride: c.s, padding: c.p };
  const loss = async (xv: Float32Array, wv: Float32Array, bv: Float32Array) => {
    const x = rt.tensor(xv, c.x), w = rt.tensor(wv, c.w), b = rt.tensor(bv, [g.Cout]);
    const y = await rt.conv2d(x, w, b, opts);
    const ys = (await y.read()) as Float32Array;
    for (const t of [x, w, b, y]) t.dispose();
    return ys.reduce((s, v, i) => s + v * dys[i]!, 0);
  };
  const x = rt.tensor(xs, c.x), w = rt.tensor(ws, c.w), dy = rt.tensor(dys, [g.N, g.Cout, Ho, Wo]);
  const grads = await rt.conv2dBackward(x, w, dy, opts);
  const analytic = { x: await grads.dx.read(), w: await grads.dw.read(), b: await grads.db.read() };
  for (const t of [x, w, dy, grads.dx, grads.dw, grads.db]) t.dispose();
  const h = 0.5;
  for (const [which, v] of [['x', xs], ['w', ws], ['b', bs]] as const) {
    for (const i of [0, Math.floor(v.length / 3), Math.floor((2 * v.length) / 3), v.length - 1]) {
      const vp = Float32Array.from(v), vm = Float32Array.from(v);
      vp[i]! += h; vm[i]! -= h;
      const args = (a: Float32Array): [Float32Array, Float32Array, Float32Array] =>
        which === 'x' ? [a, ws, bs] : which === 'w' ? [xs, a, bs] : [xs, ws, a];
      const fd = ((await loss(...args(vp))) - (await loss(...args(vm)))) / (2 * h);
      expectClose([analytic[which][i]!], [fd], { atol: 2e-3, rtol: 1e-3 }, `d${which}[${i}] vs finite difference`);
    }
  }
}

async function badInputs(rt: Runtime): Promise<void> {
  const t = (shape: number[]) => rt.tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  const x = t([2, 3, 6, 6]), w = t([4, 3, 3, 3]), w2 = t([4, 2, 3, 3]), big = t([4, 3, 7, 3]), b = t([4]), b5 = t([5]), x3 = t([3, 6, 6]);
  await expectThrows(() => rt.conv2d(x, w2, null), /conv2d: channel mismatch: x has 3 input channels/, 'channel mismatch');
  await expectThrows(() => rt.conv2d(x, big, null), /kernel 7x3 is larger than the padded input 6x6/, 'kernel too large');
  await expectThrows(() => rt.conv2d(x, w, null, { stride: 0 }), /stride must be at least 1/, 'stride 0');
  await expectThrows(() => rt.conv2d(x, w, null, { stride: [1, -2] }), /stride must be at least 1/, 'negative stride');
  await expectThrows(() => rt.conv2d(x, w, null, { padding: -1 }), /padding must not be negative/, 'negative padding');
  await expectThrows(() => rt.conv2d(x, w, null, { stride: 1.5 }), /stride must be an integer/, 'fractional stride');
  await expectThrows(() => rt.conv2d(x, w, b5, {}), /bias must have shape \[4\]/, 'bias length');
  await expectThrows(() => rt.conv2d(x3, w, b), /x must have rank 4/, 'x rank');
  await expectThrows(() => rt.conv2d(x, x3, b), /w must have rank 4/, 'w rank');
  await expectThrows(() => rt.conv2dBackward(x, w, t([2, 4, 5, 4])), /dy must have shape \[2,4,4,4\]/, 'dy shape');
  const one = t([1, 1, 1, 1]);
  await expectThrows(() => rt.conv2d(one, one, null, { padding: 30000 }), /over this device's limit/, 'output over the buffer limit');
  b.dispose();
  await expectThrows(() => rt.conv2d(x, w, b), /b was used after dispose/, 'disposed bias');
  x.dispose();
  await expectThrows(() => rt.conv2dBackward(x, w, t([2, 4, 4, 4])), /x was used after dispose/, 'disposed x');
  for (const u of [w, w2, big, b5, x3, one]) u.dispose();
}

/** Runs `f` on a runtime whose conv2dBackward takes one of its two paths (and a matmul tile). */
function withBackward(rt: Runtime, path: 'gemm' | 'direct', f: (rt: Runtime) => Promise<void>, maxTile?: 8 | 16): Promise<void> {
  return withTuning(rt, { conv: { backward: path }, matmul: { maxTile } }, f);
}

export const convCases: GpuCase[] = [
  ...sweep.map((c, i): GpuCase => ({ name: name(c), run: (rt) => checkAgainstReference(rt, c, 100 + 10 * i) })),
  { name: 'conv2d MNIST layer 1: x[2,1,28,28] w[20,1,5,5] bias', run: (rt) => checkAgainstReference(rt, { x: [2, 1, 28, 28], w: [20, 1, 5, 5], bias: true }, 7) },
  { name: 'conv2d MNIST layer 2: x[3,20,12,12] w[50,20,5,5] bias relu', run: (rt) => checkAgainstReference(rt, { x: [3, 20, 12, 12], w: [50, 20, 5, 5], bias: true, relu: true }, 8) },
  { name: 'conv2d backward vs finite differences x[2,3,5,6] w[4,3,3,2] s[2,1] p[1,1]', run: (rt) => finiteDifferences(rt, { x: [2, 3, 5, 6], w: [4, 3, 3, 2], s: [2, 1], p: [1, 1] }) },
  { name: 'conv2d backward vs finite differences x[1,2,7,7] w[3,2,3,3] s[1,1] p[0,0]', run: (rt) => finiteDifferences(rt, { x: [1, 2, 7, 7], w: [3, 2, 3, 3] }) },
  {
    name: 'conv2d backward through im2col + matmul (forced) on every sweep shape, and finite differences',
    run: (rt) => withBackward(rt, 'gemm', async (rt) => {
      for (const [i, c] of sweep.entries()) await checkAgainstReference(rt, c, 500 + 10 * i);
      await finiteDifferences(rt, { x: [2, 3, 5, 6], w: [4, 3, 3, 2], s: [2, 1], p: [1, 1] });
    }),
  },
  {
    name: 'conv2d backward through im2col + matmul on MNIST layer 2, 8×8 and 16×16 matmul tiles',
    run: async (rt) => {
      for (const t of [8, 16] as const) await withBackward(rt, 'gemm', (rt) => checkAgainstReference(rt, { x: [3, 20, 12, 12], w: [50, 20, 5, 5], bias: true }, 10 + t), t);
    },
  },
  {
    name: 'conv2d backward without dx (a first layer), both paths, in a compiled graph',
    async run(rt) {
      const c: ConvCase = { x: [2, 8, 9, 7], w: [12, 8, 3, 3], s: [2, 1], p: [1, 1] };
      const g = geometry(c);
      const [Ho, Wo] = convOut(g);
      const xs = randn(size(c.x), 31), ws = randn(size(c.w), 32), dys = randn(g.N * g.Cout * Ho * Wo, 33);
      const ref = conv2dBackwardRef(g, xs, ws, dys);
      for (const path of ['gemm', 'direct'] as const) {
        await withBackward(rt, path, async (rt) => {
          const x = rt.tensor(xs, c.x), w = rt.tensor(ws, c.w), dy = rt.tensor(dys, [g.N, g.Cout, Ho, Wo]);
          const b = new GraphBuilder(rt, `conv backward ${path}`);
          const dw = b.value(c.w, 'f32', 'dw'), db = b.value([g.Cout], 'f32', 'db');
          b.emit('conv2d backward', (ctx) => encodeConv2dBackward(ctx, x, w, dy, { dw, db }, { stride: c.s, padding: c.p }));
          b.keep(dw, db);
          const graph = b.compile();
          graph.enqueue();
          expectClose(await graph.read(dw), ref.dw, tol(g.N * Ho * Wo), `${path} dw`);
          expectClose(await graph.read(db), ref.db, tol(g.N * Ho * Wo), `${path} db`);
          graph.destroy();
          for (const t of [x, w, dy]) t.dispose();
        });
      }
    },
  },
  {
    name: 'conv2d backward through the direct kernels (forced) on MNIST layer 2',
    run: (rt) => withBackward(rt, 'direct', (rt) => checkAgainstReference(rt, { x: [3, 20, 12, 12], w: [50, 20, 5, 5], bias: true }, 9)),
  },
  { name: 'conv2d: bad inputs are named', run: badInputs },
];
