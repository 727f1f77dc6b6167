import { describe, expect, it } from 'vitest';
import { conv2dBackwardRef, conv2dRef, convOut, type ConvGeometry } from '../../src/reference/conv2d.js';

function rand(n: number, seed: number): Float64Array {
  let s = seed;
  return Float64Array.from({ length: n }, () => { s = (s * 1103515245 + 12345) % 2 ** 31; return s / 2 ** 30 - 1; });
}

const geoms: ConvGeometry[] = [
  { N: 1, Cin: 1, H: 5, W: 5, Cout: 1, kh: 3, kw: 3, sh: 1, sw: 1, ph: 0, pw: 0 },
  { N: 2, Cin: 3, H: 7, W: 6, Cout: 2, kh: 3, kw: 2, sh: 2, sw: 1, ph: 1, pw: 0 },
  { N: 1, Cin: 2, H: 6, W: 9, Cout: 3, kh: 2, kw: 4, sh: 3, sw: 2, ph: 2, pw: 1 },
];

describe('conv2d reference', () => {
  it('forward matches a hand-computed 2x2 case', () => {
    const g: ConvGeometry = { N: 1, Cin: 1, H: 2, W: 2, Cout: 1, kh: 2, kw: 2, sh: 1, sw: 1, ph: 1, pw: 1 };
    expect(convOut(g)).toEqual([3, 3]);
    const y = conv2dRef(g, [1, 2, 3, 4], [1, 10, 100, 1000], [0.5]);
    expect(Array.from(y)).toEqual([1000.5, 2100.5, 200.5, 3010.5, 4321.5, 402.5, 30.5, 43.5, 4.5]);
    expect(Array.from(conv2dRef(g, [1, 2, 3, 4], [1, 10, 100, 1000], [-2100], true))).toEqual([0, 0, 0, 910, 2221, 0, 0, 0, 0]);
  });

  for (const g of geoms) {
    it(`backward equals finite differences of the forward ${JSON.stringify(g)}`, () => {
      const [Ho, Wo] = convOut(g);
      const x = rand(g.N * g.Cin * g.H * g.W, 1), w = rand(g.Cout * g.Cin * g.kh * g.kw, 2);
      const b = rand(g.Cout, 3), dy = rand(g.N * g.Cout * Ho * Wo, 4);
      const loss = (xx: Float64Array, ww: Float64Array, bb: Float64Array) =>
        conv2dRef(g, xx, ww, bb).reduce((s, v, i) => s + v * dy[i]!, 0);
      const { dx, dw, db } = conv2dBackwardRef(g, x, w, dy);
      const h = 1e-6;
      const fd = (v: Float64Array, f: () => number) => Float64Array.from(v, (_, i) => {
        const o = v[i]!;
        v[i] = o + h; const p = f();
        v[i] = o - h; const m = f();
        v[i] = o;
        return (p - m) / (2 * h);
      });
      const check = (a: Float64Array, e: Float64Array) => a.forEach((v, i) => expect(v).toBeCloseTo(e[i]!, 6));
      check(dx, fd(x, () => loss(x, w, b)));
      check(dw, fd(w, () => loss(x, w, b)));
      check(db, fd(b, () => loss(x, w, b)));
    });
  }
});
