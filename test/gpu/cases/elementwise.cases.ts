import { reluBackwardRef, reluRef } from '../../../src/reference/elementwise.js';
import { expectClose, expectThrows, randn, type GpuCase } from '../harness.js';

const exact = { atol: 0, rtol: 0 };

export const elementwiseCases: GpuCase[] = [
  ...[[1], [7, 3], [2, 5, 9, 11], [1000, 257]].map((shape): GpuCase => ({
    name: `relu fwd+bwd [${shape}]`,
    async run(rt) {
      const n = shape.reduce((a, b) => a * b, 1);
      const xs = randn(n, n), dys = randn(n, n + 1);
      const x = rt.tensor(xs, shape), dy = rt.tensor(dys, shape);
      const y = await rt.relu(x), dx = await rt.reluBackward(x, dy);
      expectClose(await y.read(), reluRef(xs), exact, 'relu');
      expectClose(await dx.read(), reluBackwardRef(xs, dys), exact, 'reluBackward');
      for (const t of [x, dy, y, dx]) t.dispose();
    },
  })),
  {
    name: 'relu: bad input is named',
    async run(rt) {
      const x = rt.tensor(new Float32Array(6), [2, 3]), dy = rt.tensor(new Float32Array(6), [3, 2]);
      await expectThrows(() => rt.reluBackward(x, dy), /reluBackward: dy has shape \[3,2\] but x has shape \[2,3\]/, 'shape mismatch');
      dy.dispose();
      await expectThrows(() => rt.reluBackward(x, dy), /dy was used after dispose/, 'disposed');
      x.dispose();
    },
  },
];
