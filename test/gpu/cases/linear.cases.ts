import { encodeColumnSum, encodeLinear, encodeLinearBackward } from '../../../src/ops/linear.js';
import { encodeChannelSum } from '../../../src/ops/reduce.js';
import { linearBackwardRef, linearRef } from '../../../src/reference/linear.js';
import type { Runtime } from '../../../src/api.js';
import { expectClose, expectThrows, randn, runEncoded, withTuning, type GpuCase, type Tolerance } from '../harness.js';

// f32 dot products of length k: error grows with k.
const tol = (k: number): Tolerance => ({ atol: 2e-6 * k, rtol: 1e-4 });

// [n, in, out]: 1×1; odd sizes (scalar loads); sizes that switch each operand's vec4 path on or off;
// the last two and 3×800→500 take the quad (subgroup) paths where the adapter has subgroups.
const sizes: [number, number, number][] = [
  [1, 1, 1], [7, 13, 5], [3, 800, 500], [64, 500, 10], [5, 12, 7], [4, 9, 8], [9, 4, 16], [2, 33, 65], [36, 130, 12], [40, 256, 8],
];

async function check(rt: Runtime, n: number, fin: number, fout: number, withBias: boolean): Promise<void> {
  const s = n * 1000 + fin * 10 + fout;
  const xs = randn(n * fin, s), ws = randn(fout * fin, s + 1, 1 / Math.sqrt(fin)), bs = randn(fout, s + 2), dys = randn(n * fout, s + 3);
  const x = rt.tensor(xs, [n, fin]), w = rt.tensor(ws, [fout, fin]), b = withBias ? rt.tensor(bs, [fout]) : null, dy = rt.tensor(dys, [n, fout]);
  const y = await rt.linear(x, w, b);
  expectClose(await y.read(), linearRef(xs, ws, withBias ? bs : null, n, fin, fout), tol(fin), 'y');
  const g = await rt.linearBackward(x, w, dy);
  const r = linearBackwardRef(xs, ws, dys, n, fin, fout);
  expectClose(await g.dx.read(), r.dx, tol(fout), 'dx');
  expectClose(await g.dw.read(), r.dw, tol(n), 'dw');
  expectClose(await g.db.read(), r.db, tol(n), 'db');
  for (const t of [x, w, b, dy, y, g.dx, g.dw, g.db]) t?.dispose();
}

/** Runs `f` on a runtime whose matmul's largest register tile is forced (8: the GPU choice, 16: the CPU one). */
function withMaxTile(rt: Runtime, maxTile: 8 | 16, f: (rt: Runtime) => Promise<void>): Promise<void> {
  return withTuning(rt, { matmul: { maxTile } }, f);
}

export const linearCases: GpuCase[] = [
  ...sizes.map(([n, fin, fout], i): GpuCase => ({
    name: `linear fwd+bwd ${n}×${fin}→${fout}${i % 2 ? ' no bias' : ''}, 8×8 and 16×16 matmul tiles`,
    async run(rt) {
      for (const t of [8, 16] as const) await withMaxTile(rt, t, (rt) => check(rt, n, fin, fout, i % 2 === 0));
    },
  })),
  {
    name: 'linear: fused ReLU and the encode path without dx',
    async run(rt) {
      const [n, fin, fout] = [6, 20, 12];
      const xs = randn(n * fin, 1), ws = randn(fout * fin, 2), bs = randn(fout, 3), dys = randn(n * fout, 4);
      const x = rt.tensor(xs, [n, fin]), w = rt.tensor(ws, [fout, fin]), b = rt.tensor(bs, [fout]), dy = rt.tensor(dys, [n, fout]);
      const y = rt.empty([n, fout]), dw = rt.empty([fout, fin]), db = rt.empty([fout]);
      await runEncoded(rt, 'linear relu', (ctx) => [...encodeLinear(ctx, x, w, b, y, { relu: true }), ...encodeLinearBackward(ctx, x, w, dy, { dw, db })]);
      expectClose(await y.read(), linearRef(xs, ws, bs, n, fin, fout, true), tol(fin), 'relu(y)');
      const r = linearBackwardRef(xs, ws, dys, n, fin, fout);
      expectClose(await dw.read(), r.dw, tol(n), 'dw');
      expectClose(await db.read(), r.db, tol(n), 'db');
      for (const t of [x, w, b, dy, y, dw, db]) t.dispose();
    },
  },
  {
    name: 'linear backward: finite differences on a small shape',
    async run(rt) {
      const [n, fin, fout] = [2, 3, 4];
      const xs = randn(n * fin, 7), ws = randn(fout * fin, 8), bs = randn(fout, 9), dys = randn(n * fout, 10);
      const x = rt.tensor(xs, [n, fin]), w = rt.tensor(ws, [fout, fin]), b = rt.tensor(bs, [fout]), dy = rt.tensor(dys, [n, fout]);
      const g = await rt.linearBackward(x, w, dy);
      const loss = async (xv: Float32Array, wv: Float32Array, bv: Float32Array) => {
        const [tx, tw, tb] = [rt.tensor(xv, [n, fin]), rt.tensor(wv, [fout, fin]), rt.tensor(bv, [fout])];
        const y = await rt.linear(tx, tw, tb);
        const ys = await y.read();
        for (const t of [tx, tw, tb, y]) t.dispose();
        let s = 0;
        for (let i = 0; i < ys.length; i++) s += ys[i]! * dys[i]!;
        return s;
      };
      const h = 1 / 32;
      for (const [name, base, got] of [['dx', xs, g.dx], ['dw', ws, g.dw], ['db', bs, g.db]] as const) {
        const num = new Float64Array(base.length);
        for (let i = 0; i < base.length; i++) {
          const p = base.slice(), m = base.slice();
          p[i]! += h; m[i]! -= h;
          const args = (v: Float32Array) => (name === 'dx' ? [v, ws, bs] : name === 'dw' ? [xs, v, bs] : [xs, ws, v]) as [Float32Array, Float32Array, Float32Array];
          num[i] = ((await loss(...args(p))) - (await loss(...args(m)))) / (2 * h);
        }
        expectClose(await got.read(), num, { atol: 1e-3, rtol: 1e-3 }, `${name} vs finite differences`);
      }
      for (const t of [x, w, b, dy, g.dx, g.dw, g.db]) t.dispose();
    },
  },
  {
    name: 'linear db reduce: column sum and channel sum (conv bias layout)',
    async run(rt) {
      const [r, c] = [37, 13];
      const xs = randn(r * c, 11);
      const x = rt.tensor(xs, [r, c]), out = rt.empty([c]);
      const [n, ch, hw] = [3, 5, 7];
      const zs = randn(n * ch * hw, 12);
      const z = rt.tensor(zs, [n, ch, hw]), zout = rt.empty([ch]);
      await runEncoded(rt, 'sums', (ctx) => [...encodeColumnSum(ctx, x, out), ...encodeChannelSum(ctx, z, zout, n, ch, hw)]);
      const col = new Float64Array(c), chs = new Float64Array(ch);
      xs.forEach((v, i) => { col[i % c]! += v; });
      zs.forEach((v, i) => { chs[Math.floor(i / hw) % ch]! += v; });
      expectClose(await out.read(), col, tol(r), 'column sum');
      expectClose(await zout.read(), chs, tol(n * hw), 'channel sum');
      for (const t of [x, out, z, zout]) t.dispose();
    },
  },
  {
    name: 'linear: bad input is named',
    async run(rt) {
      const x = rt.tensor(new Float32Array(6), [2, 3]), w = rt.tensor(new Float32Array(12), [4, 3]);
      const x1 = rt.tensor(new Float32Array(6), [6]), w5 = rt.tensor(new Float32Array(10), [2, 5]);
      const b3 = rt.tensor(new Float32Array(3), [3]), dy = rt.tensor(new Float32Array(6), [2, 3]);
      await expectThrows(() => rt.linear(x1, w, null), /linear: x must have rank 2/, 'rank');
      await expectThrows(() => rt.linear(x, w5, null), /linear: x has 3 features but w \[2,5\] expects 5/, 'feature mismatch');
      await expectThrows(() => rt.linear(x, w, b3), /linear: b must have shape \[4\], got \[3\]/, 'bias length');
      await expectThrows(() => rt.linearBackward(x, w, dy), /linearBackward: dy must have shape \[2,4\], got \[2,3\]/, 'dy shape');
      const big = rt.tensor(new Float32Array(1 << 16), [1 << 16, 1]), wide = rt.tensor(new Float32Array(1 << 15), [1 << 15, 1]);
      await expectThrows(() => rt.linear(big, wide, null), /linear y\[65536,32768\] needs 8589934592 bytes, over this device's limit/, 'output over limits');
      w.dispose();
      await expectThrows(() => rt.linear(x, w, null), /w was used after dispose/, 'disposed');
      for (const t of [x, x1, w5, b3, dy, big, wide]) t.dispose();
    },
  },
];
