import { fwhtRef } from '../../../src/reference/fwht.js';
import { expectClose, expectThrows, randn, type GpuCase, type Tolerance } from '../harness.js';

const U = 2 ** -24;
const rms = (v: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! ** 2;
  return Math.sqrt(s / v.length);
};
/** Rounding of a depth-log2(d) butterfly network: a few units of roundoff per stage, relative to
 * the typical output magnitude (which already grows like sqrt(d)). */
const tolFor = (ref: ArrayLike<number>, d: number): Tolerance => ({ atol: 4 * U * Math.max(1, Math.log2(d)) * rms(ref), rtol: 0 });

const sweep: [number, number[]][] = [
  [2, [1, 3, 7]], [4, [1, 3, 7]], [8, [1, 3, 7]], [64, [1, 3, 7]], [1024, [1, 3, 7]],
  [8192, [1, 3]], [16384, [1, 3]], [2 ** 20, [1]],
];

export const fwhtCases: GpuCase[] = [
  ...sweep.flatMap(([d, batches]) => batches.map((n, bi): GpuCase => ({
    name: `fwht d=${d} batch ${n}${bi === 1 ? ' scale 0.5' : ''}`,
    async run(rt) {
      const scale = bi === 1 ? 0.5 : 1;
      const xs = randn(n * d, d + n);
      const x = rt.tensor(xs, [n, d]);
      const y = await rt.fwht(x, { scale });
      const ref = fwhtRef(xs, d, scale);
      expectClose(await y.read(), ref, tolFor(ref, d), `fwht d=${d} n=${n}`);
      x.dispose(); y.dispose();
    },
  }))),
  {
    name: 'fwht rank-3 input and many rows per workgroup',
    async run(rt) {
      for (const shape of [[2, 3, 64], [2100, 64], [5, 300, 16]]) {
        const d = shape[shape.length - 1]!, n = shape.reduce((a, b) => a * b, 1);
        const xs = randn(n, n);
        const x = rt.tensor(xs, shape);
        const y = await rt.fwht(x);
        const ref = fwhtRef(xs, d);
        expectClose(await y.read(), ref, tolFor(ref, d), `fwht [${shape}]`);
        if (JSON.stringify(y.shape) !== JSON.stringify(shape)) throw new Error(`fwht kept shape [${y.shape}], expected [${shape}]`);
        x.dispose(); y.dispose();
      }
    },
  },
  {
    name: 'fwht twice is d·x',
    async run(rt) {
      const xs = randn(3 * 1024, 9);
      const x = rt.tensor(xs, [3, 1024]);
      const y = await rt.fwht(x), z = await rt.fwht(y, { scale: 1 / 1024 });
      expectClose(await z.read(), xs, { atol: 4 * U * 20 * rms(xs), rtol: 0 }, 'fwht∘fwht/d');
      for (const t of [x, y, z]) t.dispose();
    },
  },
  {
    name: 'fwht: bad input is named',
    async run(rt) {
      const x = rt.tensor(new Float32Array(24), [2, 12]);
      await expectThrows(() => rt.fwht(x), /fwht: the last axis of x must be a power of two ≥ 2, got 12/, 'd = 12');
      const one = rt.tensor(new Float32Array(3), [3, 1]);
      await expectThrows(() => rt.fwht(one), /power of two ≥ 2, got 1/, 'd = 1');
      const ok = rt.tensor(new Float32Array(8), [2, 4]);
      await expectThrows(() => rt.fwht(ok, { scale: NaN }), /scale must be a finite number/, 'NaN scale');
      const labels = rt.tensor(new Int32Array(4), [4]);
      await expectThrows(() => rt.fwht(labels), /x must be f32, got i32/, 'dtype');
      ok.dispose();
      await expectThrows(() => rt.fwht(ok), /x was used after dispose/, 'disposed');
      for (const t of [x, one, labels]) t.dispose();
    },
  },
];
