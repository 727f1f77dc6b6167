import { encodeMaxPool2d, encodeMaxPool2dBackward } from '../../../src/ops/pool.js';
import { pair, type PoolOptions } from '../../../src/ops/types.js';
import {
  avgPoolBackwardRef, avgPoolRef, maxPoolBackwardRef, maxPoolRef, poolOutShape, type PoolRefGeometry,
} from '../../../src/reference/pool.js';
import type { Runtime } from '../../../src/api.js';
import type { Tensor } from '../../../src/gpu/runtime.js';
import { expectClose, expectEqual, expectThrows, randn, rng, type GpuCase, runEncoded, withTuning } from '../harness.js';

type Shape4 = [number, number, number, number];
const exact = { atol: 0, rtol: 0 };
/** Pooling sums a window: its float32 rounding (fuzz.cases.ts uses it too). */
export const poolSums = { atol: 1e-5, rtol: 1e-5 };

function geometry(o: PoolOptions): PoolRefGeometry {
  const kernel = pair(o.kernel, 0, 'kernel');
  return { kernel, stride: o.stride === undefined ? kernel : pair(o.stride, 0, 'stride'), padding: pair(o.padding, 0, 'padding') };
}
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Integer values in [-2, 2] (many ties) or distinct values (a random permutation of i/8). */
export function poolInput(n: number, seed: number, ties: boolean): Float32Array {
  const r = rng(seed);
  if (ties) return Float32Array.from({ length: n }, () => Math.floor(r() * 5) - 2);
  const v = Float32Array.from({ length: n }, (_, i) => i / 8 - n / 16);
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [v[i], v[j]] = [v[j]!, v[i]!]; }
  return v;
}

// Windows overlap (stride < kernel) or not (stride >= kernel, the backward's disjoint variant,
// with gaps when stride > kernel); padding cuts windows.
const sweep: [Shape4, PoolOptions][] = [
  [[1, 1, 5, 5], { kernel: 2 }],
  [[3, 5, 7, 9], { kernel: 3, stride: 2, padding: 1 }],
  [[1, 3, 6, 6], { kernel: [2, 3], stride: [1, 3], padding: [1, 0] }],
  [[2, 6, 11, 13], { kernel: 3, stride: 1, padding: 1 }],
  [[3, 2, 4, 7], { kernel: 1 }],
  [[1, 7, 9, 8], { kernel: [3, 2], stride: [3, 2], padding: [1, 1] }],
  [[5, 3, 5, 4], { kernel: [1, 3], stride: [2, 1], padding: [0, 2] }],
  [[1, 1, 3, 3], { kernel: 3, stride: 3 }],
  [[2, 3, 7, 8], { kernel: 2, stride: 3, padding: 1 }],
  [[1, 2, 9, 7], { kernel: [2, 3], stride: [3, 4], padding: [0, 1] }],
  // windows over 3×3 take the forward's loop (not unrolled) variant
  [[2, 3, 9, 10], { kernel: [4, 5], stride: [2, 3], padding: [1, 2] }],
  [[1, 2, 8, 9], { kernel: 4, padding: 1 }],
  [[4, 20, 24, 24], { kernel: 2, stride: 2 }],
  [[3, 5, 6, 10], { kernel: 2 }],
  [[2, 3, 4, 2], { kernel: 2, stride: 2 }],
];

async function run(rt: Runtime, f: () => Tensor): Promise<Float32Array> {
  const t = f();
  const v = await t.read() as Float32Array;
  t.dispose();
  return v;
}

/** Every coordinate of dx against central differences of Σ dy·pool(x) computed on the GPU. */
async function finiteDifferences(rt: Runtime, kind: 'max' | 'avg', shape: Shape4, opts: PoolOptions): Promise<void> {
  const xs = poolInput(size(shape), 99, false), ys = poolOutShape(shape, geometry(opts));
  const dys = randn(size(ys), 5);
  const x = rt.tensor(xs, shape), dy = rt.tensor(dys, ys);
  const fwd = (v: Float32Array) => { const t = rt.tensor(v, shape); return run(rt, () => (kind === 'max' ? rt.maxPool2d(t, opts) : rt.avgPool2d(t, opts))).finally(() => t.dispose()); };
  const dx = await run(rt, () => (kind === 'max' ? rt.maxPool2dBackward(x, dy, opts) : rt.avgPool2dBackward(x, dy, opts)));
  const h = 1 / 64, num = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const p = xs.slice(), m = xs.slice();
    p[i]! += h; m[i]! -= h;
    const [yp, ym] = [await fwd(p), await fwd(m)];
    let s = 0;
    for (let j = 0; j < dys.length; j++) s += dys[j]! * (yp[j]! - ym[j]!);
    num[i] = s / (2 * h);
  }
  expectClose(dx, num, { atol: 1e-4, rtol: 1e-3 }, `${kind} pool dx vs finite differences`);
  x.dispose(); dy.dispose();
}

export const poolCases: GpuCase[] = [
  ...sweep.map(([shape, opts], c): GpuCase => ({
    name: `pool max+avg fwd/bwd [${shape}] ${JSON.stringify(opts)}`,
    async run(rt) {
      const g = geometry(opts), ys = poolOutShape(shape, g);
      const ties = c % 2 === 0;
      const xs = poolInput(size(shape), c + 1, ties), dys = randn(size(ys), c + 100);
      const x = rt.tensor(xs, shape), dy = rt.tensor(dys, ys);
      const mp = maxPoolRef(xs, shape, g);
      expectClose(await run(rt, () => rt.maxPool2d(x, opts)), mp.y, exact, 'maxPool2d');
      expectClose(await run(rt, () => rt.maxPool2dBackward(x, dy, opts)), maxPoolBackwardRef(xs, shape, dys, g), poolSums, 'maxPool2dBackward');
      expectClose(await run(rt, () => rt.avgPool2d(x, opts)), avgPoolRef(xs, shape, g), poolSums, 'avgPool2d');
      expectClose(await run(rt, () => rt.avgPool2dBackward(x, dy, opts)), avgPoolBackwardRef(shape, dys, g), poolSums, 'avgPool2dBackward');
      x.dispose(); dy.dispose();
    },
  })),
  {
    name: 'pool max: recorded argmax (first max under ties) feeds the backward',
    async run(rt) {
      const shape: Shape4 = [2, 3, 7, 6], opts: PoolOptions = { kernel: [3, 2], stride: [2, 1], padding: 1 };
      const g = geometry(opts), ys = poolOutShape(shape, g);
      const xs = poolInput(size(shape), 42, true), dys = randn(size(ys), 43);
      const x = rt.tensor(xs, shape), dy = rt.tensor(dys, ys);
      const y = rt.empty(ys), am = rt.empty(ys, 'i32'), dx = rt.empty(shape);
      await runEncoded(rt, 'maxpool argmax', (ctx) => [...encodeMaxPool2d(ctx, x, y, opts, am), ...encodeMaxPool2dBackward(ctx, x, dy, dx, opts, am)]);
      const ref = maxPoolRef(xs, shape, g);
      expectClose(await y.read(), ref.y, exact, 'y');
      expectEqual(Array.from(await am.read()), Array.from(ref.argmax), 'argmax');
      expectClose(await dx.read(), maxPoolBackwardRef(xs, shape, dys, g), poolSums, 'dx');
      for (const t of [x, dy, y, am, dx]) t.dispose();
    },
  },
  {
    name: 'pool max 2×2 tiles: vec2 kernels and the general ones give the reference y, argmax (first max under ties) and dx',
    async run(rt) {
      const opts: PoolOptions = { kernel: 2, stride: 2 };
      for (const off of [false, true]) {
        await withTuning(rt, { pool: { tiles2x2: !off } }, async (rt) => {
          for (const [i, shape] of ([[4, 20, 24, 24], [2, 3, 4, 2], [1, 2, 2, 6]] as Shape4[]).entries()) {
            const g = geometry(opts), ys = poolOutShape(shape, g);
            const xs = poolInput(size(shape), 70 + i, i !== 2), dys = randn(size(ys), 80 + i);
            const x = rt.tensor(xs, shape), dy = rt.tensor(dys, ys);
            const y = rt.empty(ys), am = rt.empty(ys, 'i32'), dx = rt.empty(shape);
            await runEncoded(rt, 'maxpool 2x2', (ctx) => [...encodeMaxPool2d(ctx, x, y, opts, am), ...encodeMaxPool2dBackward(ctx, x, dy, dx, opts, am)]);
            const ref = maxPoolRef(xs, shape, g), what = `${off ? 'general' : 'tiles'} [${shape}]`;
            expectClose(await y.read(), ref.y, exact, `y ${what}`);
            expectEqual(Array.from(await am.read()), Array.from(ref.argmax), `argmax ${what}`);
            expectClose(await dx.read(), maxPoolBackwardRef(xs, shape, dys, g), exact, `dx ${what}`);
            for (const t of [x, dy, y, am, dx]) t.dispose();
          }
        });
      }
    },
  },
  {
    name: 'pool max: all-negative input with padding (padding never wins)',
    async run(rt) {
      const x = rt.tensor(new Float32Array([-5, -5, -5, -5]), [1, 1, 2, 2]), dy = rt.tensor(new Float32Array(9).fill(1), [1, 1, 3, 3]);
      const opts = { kernel: 2, stride: 1, padding: 1 };
      expectClose(await run(rt, () => rt.maxPool2d(x, opts)), new Float32Array(9).fill(-5), exact, 'y');
      expectClose(await run(rt, () => rt.maxPool2dBackward(x, dy, opts)), [4, 2, 2, 1], exact, 'dx');
      x.dispose(); dy.dispose();
    },
  },
  {
    name: 'pool max+avg backward: finite differences on small shapes',
    async run(rt) {
      await finiteDifferences(rt, 'max', [1, 2, 3, 4], { kernel: 2, stride: 1, padding: 1 });
      await finiteDifferences(rt, 'avg', [1, 2, 3, 4], { kernel: [2, 3], stride: [2, 1], padding: [1, 1] });
      await finiteDifferences(rt, 'avg', [2, 1, 5, 3], { kernel: 3, stride: 2, padding: 1 });
      await finiteDifferences(rt, 'max', [1, 1, 5, 5], { kernel: 2, stride: 3, padding: 1 });
      await finiteDifferences(rt, 'avg', [1, 1, 5, 5], { kernel: 2, stride: 3, padding: 1 });
    },
  },
  {
    name: 'pool: bad input is named',
    async run(rt) {
      const x = rt.tensor(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
      const x3 = rt.tensor(new Float32Array(12), [3, 4, 1]);
      await expectThrows(() => rt.maxPool2d(x3, { kernel: 2 }), /maxPool2d: x must have rank 4/, 'rank');
      await expectThrows(() => rt.avgPool2d(x, { kernel: 2, stride: 0 }), /avgPool2d: stride must be at least 1/, 'stride 0');
      await expectThrows(() => rt.maxPool2d(x, { kernel: 2, padding: 2 }), /padding must be in \[0, kernel\)/, 'padding >= kernel');
      await expectThrows(() => rt.maxPool2d(x, { kernel: 2, padding: -1 }), /padding must be in \[0, kernel\)/, 'negative padding');
      await expectThrows(() => rt.maxPool2d(x, { kernel: [7, 2], padding: 1 }), /kernel \[7,2\] is larger than the padded input \[6,6\]/, 'kernel too big');
      await expectThrows(() => rt.maxPool2d(x, { kernel: 1.5 }), /kernel must be an integer/, 'fractional');
      const dy = rt.tensor(new Float32Array(2 * 3 * 3 * 3), [2, 3, 3, 3]);
      await expectThrows(() => rt.maxPool2dBackward(x, dy, { kernel: 2 }), /maxPool2dBackward: dy must have shape \[2,3,2,2\], got \[2,3,3,3\]/, 'dy shape');
      await expectThrows(() => rt.avgPool2dBackward(x, dy, { kernel: 2 }), /avgPool2dBackward: dy must have shape \[2,3,2,2\]/, 'avg dy shape');
      const i32 = rt.tensor(new Int32Array(16), [1, 1, 4, 4]);
      await expectThrows(() => rt.maxPool2d(i32, { kernel: 2 }), /x must be f32, got i32/, 'dtype');
      x.dispose();
      await expectThrows(() => rt.maxPool2d(x, { kernel: 2 }), /x was used after dispose/, 'disposed');
      for (const t of [x3, dy, i32]) t.dispose();
    },
  },
];
