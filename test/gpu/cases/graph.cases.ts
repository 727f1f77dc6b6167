// The scheduler's building blocks: liveness buffer reuse, optimizer kernels, dropout.
import { HYPER } from '../../../kernels/optim.wgsl.js';
import type { TensorRef } from '../../../src/gpu/runtime.js';
import { GraphBuilder, type GraphValue } from '../../../src/graph/graph.js';
import { encodeDropout, encodeRelu } from '../../../src/ops/elementwise.js';
import { encodeAdam, encodeSgd } from '../../../src/ops/optim.js';
import { adamRef, sgdRef } from '../../../src/reference/optim.js';
import { expectClose, expectEqual, loweredLimits, randn, runEncoded, type GpuCase } from '../harness.js';

const hyperOf = (lr: number, c1 = 0, c2 = 0, seed = 0) => { const h = new Float32Array(HYPER.length); h[HYPER.lr] = lr; h[HYPER.adamC1] = c1; h[HYPER.adamC2] = c2; h[HYPER.seed] = seed; return h; };

export const graphCases: GpuCase[] = [
  {
    name: 'graph: a chain of 6 relus reuses 2 activation buffers and computes the right values',
    async run(rt) {
      const xs = randn(1000, 3);
      const x = rt.tensor(xs, [10, 100]);
      const g = new GraphBuilder(rt, 'relu chain');
      let h: TensorRef = x;
      for (let i = 0; i < 6; i++) { const y = g.value(h.shape, 'f32', `y${i}`); const src = h; g.emit('relu', () => encodeRelu(src, y)); h = y; }
      g.keep(h);
      const graph = g.compile();
      expectEqual(graph.ownedBuffers.filter((b) => b.usage & 0x80).length, 2, 'physical activation buffers');
      graph.enqueue();
      const out = await graph.read(h as GraphValue);
      expectClose(out, xs.map((v) => Math.max(v, 0)), { atol: 0, rtol: 0 }, 'relu chain');
      graph.destroy();
      x.dispose();
    },
  },
  {
    name: 'optim: SGD with momentum and decay, and Adam, match float64 over 3 steps (vec4 and scalar kernels: 1000 and 1001 elements; in blocks under a lowered binding limit)',
    async run(rt) {
      // 1000: vec4 kernels; 1001: scalar; and 1001 with the binding limit lowered to 256 elements (four blocks)
      for (const [n, limits] of [[1000, undefined], [1001, undefined], [1001, loweredLimits(rt, 1034)]] as const) {
        const w0 = randn(n, 1), gs = [randn(n, 2), randn(n, 3), randn(n, 4)];
        const hyper = rt.zeros([HYPER.length]);
        // SGD
        const w = rt.tensor(w0, [n]), v = rt.zeros([n]);
        let ref = { w: Float64Array.from(w0), v: new Float64Array(n) };
        for (const gr of gs) {
          const grad = rt.tensor(gr, [n]);
          rt.write(hyper, hyperOf(0.1));
          await runEncoded(rt, 'sgd', () => encodeSgd(hyper, grad, w, v, { momentum: 0.9, decay: 0.01, lrMul: 1 }, limits));
          ref = sgdRef(ref.w, ref.v, gr, 0.1, 0.9, 0.01);
          grad.dispose();
        }
        expectClose(await w.read(), ref.w, { atol: 1e-5, rtol: 1e-5 }, `sgd w (${n}${limits ? ', blocks' : ''})`);
        expectClose(await v.read(), ref.v, { atol: 1e-5, rtol: 1e-5 }, `sgd v (${n}${limits ? ', blocks' : ''})`);
        // Adam
        const wa = rt.tensor(w0, [n]), m = rt.zeros([n]), va = rt.zeros([n]);
        let ra = { w: Float64Array.from(w0), m: new Float64Array(n), v: new Float64Array(n) };
        const o = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, decay: 0.001 };
        for (let t = 1; t <= gs.length; t++) {
          const grad = rt.tensor(gs[t - 1]!, [n]);
          rt.write(hyper, hyperOf(o.lr, 1 / (1 - o.beta1 ** t), 1 / (1 - o.beta2 ** t)));
          await runEncoded(rt, 'adam', () => encodeAdam(hyper, grad, wa, m, va, { beta1: o.beta1, beta2: o.beta2, eps: o.eps, decay: o.decay, lrMul: 1 }, limits));
          ra = adamRef(ra.w, ra.m, ra.v, gs[t - 1]!, { ...o, t });
          grad.dispose();
        }
        expectClose(await wa.read(), ra.w, { atol: 1e-5, rtol: 1e-4 }, `adam w (${n}${limits ? ', blocks' : ''})`);
        expectClose(await m.read(), ra.m, { atol: 1e-6, rtol: 1e-5 }, `adam m (${n}${limits ? ', blocks' : ''})`);
        for (const t of [hyper, w, v, wa, m, va]) t.dispose();
      }
    },
  },
  {
    name: 'dropout: keeps about 1−p scaled by 1/(1−p), the same mask for the same seed, a new one for another',
    async run(rt) {
      const n = 20000, p = 0.3;
      const ones = rt.tensor(new Float32Array(n).fill(1), [n]);
      const hyper = rt.zeros([HYPER.length]);
      const masks: Float32Array[] = [];
      for (const seed of [5, 5, 6]) {
        rt.write(hyper, hyperOf(0, 0, 0, seed));
        const y = rt.empty([n]);
        await runEncoded(rt, 'dropout', () => encodeDropout(hyper, ones, y, p));
        masks.push((await y.read()) as Float32Array);
        y.dispose();
      }
      const [a, b, c] = masks as [Float32Array, Float32Array, Float32Array];
      const kept = a.filter((v) => v !== 0);
      if (Math.abs(kept.length / n - (1 - p)) > 0.02) throw new Error(`kept fraction ${kept.length / n}, expected ${1 - p}`);
      expectClose(kept, new Float32Array(kept.length).fill(1 / (1 - p)), { atol: 1e-6, rtol: 0 }, 'kept values');
      expectClose(b, a, { atol: 0, rtol: 0 }, 'same seed, same mask');
      let same = 0;
      for (let i = 0; i < n; i++) if ((a[i] === 0) === (c[i] === 0)) same++;
      if (same / n > 0.7) throw new Error(`masks of different seeds agree on ${same / n} of elements`);
      ones.dispose();
      hyper.dispose();
    },
  },
];
