// Each float64 reference backward equals finite differences of its reference forward.
import { describe, expect, it } from 'vitest';
import { avgPoolBackwardRef, avgPoolRef, maxPoolBackwardRef, maxPoolRef, type PoolRefGeometry } from '../../src/reference/pool.js';
import { linearBackwardRef, linearRef } from '../../src/reference/linear.js';
import { correctRef, softmaxXentBackwardRef, softmaxXentRef } from '../../src/reference/softmax_xent.js';

function rand(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  return Float64Array.from({ length: n }, () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 * 2 - 1; });
}
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!; return s; };

/** Central differences of f at x along every coordinate. */
function numericGrad(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  return Float64Array.from(x, (_, i) => {
    const p = x.slice(), m = x.slice();
    p[i]! += h; m[i]! -= h;
    return (f(p) - f(m)) / (2 * h);
  });
}

function close(a: ArrayLike<number>, e: ArrayLike<number>, tol = 1e-6): void {
  expect(a.length).toBe(e.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - e[i]!), `element ${i}: ${a[i]} vs ${e[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(e[i]!)));
}

const g = (k: [number, number], s: [number, number], p: [number, number]): PoolRefGeometry => ({ kernel: k, stride: s, padding: p });
const pools: [readonly [number, number, number, number], PoolRefGeometry][] = [
  [[1, 1, 4, 4], g([2, 2], [2, 2], [0, 0])],
  [[2, 3, 5, 7], g([3, 2], [2, 1], [1, 1])],
  [[1, 2, 5, 5], g([3, 3], [3, 3], [1, 0])],
  [[1, 1, 3, 4], g([2, 3], [1, 2], [1, 2])],
];

describe('pool references', () => {
  for (const [shape, geo] of pools) {
    const n = shape.reduce((a, b) => a * b, 1);
    // distinct values, so max pooling is differentiable at x
    const x = Float64Array.from(rand(n, n), (v, i) => v + i * 1e-3);
    it(`max pool ${JSON.stringify({ shape, geo })}`, () => {
      const { y } = maxPoolRef(x, shape, geo);
      const dy = rand(y.length, 7);
      close(maxPoolBackwardRef(x, shape, dy, geo), numericGrad((v) => dot(maxPoolRef(v, shape, geo).y, dy), x));
    });
    it(`avg pool ${JSON.stringify({ shape, geo })}`, () => {
      const y = avgPoolRef(x, shape, geo);
      const dy = rand(y.length, 8);
      close(avgPoolBackwardRef(shape, dy, geo), numericGrad((v) => dot(avgPoolRef(v, shape, geo), dy), x));
    });
  }
  it('max pool: ties go to the first maximum in row-major order, padding never wins', () => {
    const x = [-5, -5, -5, -5];
    const { y, argmax } = maxPoolRef(x, [1, 1, 2, 2], g([2, 2], [1, 1], [1, 1]));
    expect(Array.from(y)).toEqual(Array(9).fill(-5));
    expect(Array.from(argmax)).toEqual([0, 0, 1, 0, 0, 1, 2, 2, 3]);
    expect(Array.from(maxPoolBackwardRef(x, [1, 1, 2, 2], Array(9).fill(1), g([2, 2], [1, 1], [1, 1])))).toEqual([4, 2, 2, 1]);
  });
});

describe('linear reference', () => {
  const [n, fin, fout] = [3, 5, 4];
  const x = rand(n * fin, 1), w = rand(fout * fin, 2), b = rand(fout, 3), dy = rand(n * fout, 4);
  const r = linearBackwardRef(x, w, dy, n, fin, fout);
  it('dx, dw, db', () => {
    close(r.dx, numericGrad((v) => dot(linearRef(v, w, b, n, fin, fout), dy), x));
    close(r.dw, numericGrad((v) => dot(linearRef(x, v, b, n, fin, fout), dy), w));
    close(r.db, numericGrad((v) => dot(linearRef(x, w, v, n, fin, fout), dy), b));
  });
  it('fused ReLU clamps', () => {
    const y = linearRef(x, w, b, n, fin, fout), yr = linearRef(x, w, b, n, fin, fout, true);
    expect(Array.from(yr)).toEqual(Array.from(y, (v) => Math.max(v, 0)));
  });
});

describe('softmax cross-entropy reference', () => {
  const [n, c] = [4, 5];
  const labels = [0, 4, 2, 2];
  it('dlogits', () => {
    const z = rand(n * c, 5).map((v) => 3 * v);
    close(softmaxXentBackwardRef(z, labels, n, c), numericGrad((v) => softmaxXentRef(v, labels, n, c), z));
  });
  it('stable for large logits', () => {
    const z = Float64Array.from({ length: n * c }, (_, i) => (i % 2 ? 1000 : -1000) + i);
    const l = softmaxXentRef(z, labels, n, c);
    expect(Number.isFinite(l)).toBe(true);
    close(softmaxXentBackwardRef(z, labels, n, c), numericGrad((v) => softmaxXentRef(v, labels, n, c), z, 1e-4), 1e-5);
  });
  it('correct counts the first argmax', () => {
    expect(correctRef([1, 1, 0, 1, 2, 2], [0, 1, 1], 3, 2)).toBe(2);
  });
});
