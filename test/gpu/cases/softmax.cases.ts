import { encodeSoftmaxCrossEntropy } from '../../../src/ops/softmax_xent.js';
import { correctRef, softmaxXentBackwardRef, softmaxXentRef } from '../../../src/reference/softmax_xent.js';
import { expectClose, expectEqual, expectThrows, randn, rng, type GpuCase, runEncoded } from '../harness.js';

function labelsFor(n: number, c: number, seed: number): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => Math.floor(r() * c));
}

// [N, C, logit scale]: batch 1, a single class, rows past one workgroup (65), large logits (±1e3).
const sizes: [number, number, number][] = [[1, 1, 1], [1, 10, 3], [7, 10, 2], [65, 3, 1], [64, 10, 5], [3, 1000, 1000], [5, 7, 1000]];

export const softmaxCases: GpuCase[] = [
  ...sizes.map(([n, c, scale]): GpuCase => ({
    name: `softmax xent fwd+bwd+correct [${n}, ${c}] scale ${scale}`,
    async run(rt) {
      const zs = randn(n * c, n * 31 + c, scale), ls = labelsFor(n, c, n + c);
      // make a few rows predict their label, so the correct count is not always 0
      for (let r = 0; r < n; r += 2) zs[r * c + ls[r]!] = 4 * scale;
      const z = rt.tensor(zs, [n, c]), l = rt.tensor(ls, [n]);
      const loss = await rt.softmaxCrossEntropy(z, l);
      const lossTol = { atol: 1e-5, rtol: 1e-5 }, gradTol = { atol: 1e-6, rtol: 1e-4 };
      expectClose(await loss.read(), [softmaxXentRef(zs, ls, n, c)], lossTol, 'loss');
      const ref = softmaxXentBackwardRef(zs, ls, n, c);
      const dz = await rt.softmaxCrossEntropyBackward(z, l);
      expectClose(await dz.read(), ref, gradTol, 'dlogits');
      const fl = rt.empty([1]), fd = rt.empty([n, c]), fc = rt.empty([1]);
      await runEncoded(rt, 'fused xent', (ctx) => encodeSoftmaxCrossEntropy(ctx, z, l, fl, { dlogits: fd, correct: fc }));
      expectClose(await fl.read(), [softmaxXentRef(zs, ls, n, c)], lossTol, 'fused loss');
      expectClose(await fd.read(), ref, gradTol, 'fused dlogits');
      expectEqual(Array.from(await fc.read()), [correctRef(zs, ls, n, c)], 'fused correct');
      for (const t of [z, l, loss, dz, fl, fd, fc]) t.dispose();
    },
  })),
  {
    name: 'softmax xent backward: finite differences on a small shape',
    async run(rt) {
      const [n, c] = [3, 4];
      const zs = randn(n * c, 3, 2), ls = new Int32Array([1, 3, 0]);
      const l = rt.tensor(ls, [n]), z = rt.tensor(zs, [n, c]);
      const dz = await (await rt.softmaxCrossEntropyBackward(z, l)).read();
      const lossAt = async (v: Float32Array) => {
        const t = rt.tensor(v, [n, c]);
        const out = await rt.softmaxCrossEntropy(t, l);
        const s = (await out.read())[0]!;
        t.dispose(); out.dispose();
        return s;
      };
      const h = 1 / 64, num = new Float64Array(n * c);
      for (let i = 0; i < n * c; i++) {
        const p = zs.slice(), m = zs.slice();
        p[i]! += h; m[i]! -= h;
        num[i] = ((await lossAt(p)) - (await lossAt(m))) / (2 * h);
      }
      expectClose(dz, num, { atol: 2e-4, rtol: 1e-2 }, 'dlogits vs finite differences');
      l.dispose(); z.dispose();
    },
  },
  {
    name: 'softmax xent: out-of-range labels throw naming the label; the fused kernel gives NaN',
    async run(rt) {
      const z = rt.tensor(randn(12, 1), [3, 4]);
      const bad = rt.tensor(new Int32Array([1, 4, 0]), [3]), neg = rt.tensor(new Int32Array([0, 1, -1]), [3]);
      await expectThrows(() => rt.softmaxCrossEntropy(z, bad), /softmaxCrossEntropy: label 4 at row 1 is out of range \[0, 4\)/, 'label = C');
      await expectThrows(() => rt.softmaxCrossEntropyBackward(z, neg), /softmaxCrossEntropyBackward: label -1 at row 2 is out of range \[0, 4\)/, 'negative');
      const loss = rt.empty([1]), dl = rt.empty([3, 4]);
      await runEncoded(rt, 'xent bad', (ctx) => encodeSoftmaxCrossEntropy(ctx, z, bad, loss, { dlogits: dl }));
      const lv = (await loss.read())[0]!, dv = await dl.read();
      if (!Number.isNaN(lv)) throw new Error(`loss with a bad label is ${lv}, expected NaN`);
      if (!dv.slice(4, 8).every(Number.isNaN) || dv.slice(0, 4).some(Number.isNaN)) throw new Error(`dlogits: only row 1 should be NaN, got ${Array.from(dv)}`);
      for (const t of [z, bad, neg, loss, dl]) t.dispose();
    },
  },
  {
    name: 'softmax xent: bad input is named',
    async run(rt) {
      const z = rt.tensor(new Float32Array(12), [3, 4]), z1 = rt.tensor(new Float32Array(12), [12]);
      const lf = rt.tensor(new Float32Array(3), [3]), l2 = rt.tensor(new Int32Array(2), [2]), l = rt.tensor(new Int32Array(3), [3]);
      await expectThrows(() => rt.softmaxCrossEntropy(z1, l), /softmaxCrossEntropy: logits must have rank 2/, 'rank');
      await expectThrows(() => rt.softmaxCrossEntropy(z, lf), /labels must be i32, got f32/, 'label dtype');
      await expectThrows(() => rt.softmaxCrossEntropyBackward(z, l2), /labels must have shape \[3\] \(one per row of logits\), got \[2\]/, 'label count');
      l.dispose();
      await expectThrows(() => rt.softmaxCrossEntropy(z, l), /labels was used after dispose/, 'disposed');
      for (const t of [z, z1, lf, l2]) t.dispose();
    },
  },
];
