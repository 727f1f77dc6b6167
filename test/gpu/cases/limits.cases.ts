// Limits: legal work past one dispatch's workgroup count is folded (and computed correctly); what
// cannot be done at all is an error naming the limit and the size asked for.
import { fastfoodInit } from '../../../src/nn/layers.js';
import { fastfoodBackwardRef, fastfoodRef } from '../../../src/reference/fastfood.js';
import { fwhtRef } from '../../../src/reference/fwht.js';
import { kernel, rw } from '../../../kernels/common.js';
import { seeded } from '../../../src/util/random.js';
import { expectClose, expectThrows, randn, runEncoded, withTuning, type GpuCase } from '../harness.js';

const U = 2 ** -24;
const rms = (v: ArrayLike<number>) => { let s = 0; for (let i = 0; i < v.length; i++) s += v[i]! ** 2; return Math.sqrt(s / v.length); };
const tol = (ref: ArrayLike<number>, d: number, sums = 0) => ({ atol: 4 * U * (2 * Math.log2(d) + 3 + sums) * rms(ref), rtol: 0 });

export const limitsCases: GpuCase[] = [
  {
    name: 'limits: the paper\'s ImageNet FC6 as Fastfood (9216 → 16384) at batch 256, forward and backward (65,536-workgroup passes folded), match the float64 reference',
    // the training path's forward (multi-pass at this d): the split-row inference kernel takes
    // 15–50 s to compile on SwiftShader, and the d = 16384 sweep case covers it
    run: (rt0) => withTuning(rt0, { fastfood: { splitRows: false } }, async (rt) => {
      const n = 256, inF = 9216, outF = 16384;
      const f = fastfoodInit(inF, outF, seeded(6)), shape = [f.blocks, f.d];
      const xs = randn(n * inF, 61), dys = randn(n * outF, 62);
      const ref = { ...f, outFeatures: outF };
      const p = { B: rt.tensor(f.B, shape), G: rt.tensor(f.G, shape), S: rt.tensor(f.S, shape), perm: f.perm, outFeatures: outF };
      const x = rt.tensor(xs, [n, inF]), dy = rt.tensor(dys, [n, outF]);
      try {
        const y = rt.fastfood(x, p);
        const r = fastfoodRef(xs, n, inF, ref);
        expectClose(await y.read(), r.y, tol(r.y, f.d), 'FC6 y');
        const g = rt.fastfoodBackward(x, p, dy);
        const gr = fastfoodBackwardRef(xs, n, inF, ref, dys);
        expectClose(await g.dx.read(), gr.dx, tol(gr.dx, f.d, f.blocks), 'FC6 dx');
        for (const k of ['dB', 'dG', 'dS'] as const) expectClose(await g[k].read(), gr[k], tol(gr[k], f.d, n), `FC6 ${k}`);
        for (const t of [y, g.dx, g.dB, g.dG, g.dS]) t.dispose();
      } finally {
        for (const t of [x, dy, p.B, p.G, p.S]) t.dispose();
      }
    }),
  },
  {
    name: 'limits: a long FWHT batch (2^23 rows of 2) is folded and exact; sizes past the device\'s limits are errors naming the limit and the size',
    async run(rt) {
      const d = 2, rows = 2 ** 23;
      const xs = randn(rows * d, 71), x = rt.tensor(xs, [rows, d]);
      const y = rt.fwht(x);
      expectClose(await y.read(), fwhtRef(xs, d), { atol: 4 * U * 2 * 4, rtol: 0 }, 'fwht of 2^23 rows');
      x.dispose(); y.dispose();
      const max = rt.limits.maxStorageBufferBindingSize;
      const elems = Math.floor(Math.min(max, rt.limits.maxBufferSize) / 4) + 1;
      await expectThrows(() => rt.empty([elems]), new RegExp(`needs ${elems * 4} bytes, over this device's limit \\(maxStorageBufferBindingSize ${max}`), 'a tensor past the binding limit');
      const w = rt.limits.maxComputeWorkgroupsPerDimension, over = w * w + 1;
      const k = kernel('noop', [rw('y')], [['n', 'u32']], '@compute @workgroup_size(1) fn main() { y[0] = 0.0; }');
      const one = rt.empty([1]);
      await expectThrows(() => runEncoded(rt, 'noop', () => [{ kernel: k, buffers: [one], params: { n: 1 }, workgroups: over }]),
        new RegExp(`${over} workgroups exceed this device's dispatch limit \\(${w}²\\)`), 'a dispatch past the workgroup limit');
      one.dispose();
      // the runtime computes correctly afterwards
      const a = rt.tensor(randn(64, 72), [1, 64]), b = rt.fwht(a);
      expectClose(await b.read(), fwhtRef(randn(64, 72), 64), { atol: 1e-5, rtol: 1e-5 }, 'fwht afterwards');
      a.dispose(); b.dispose();
    },
  },
];
