import { describe, expect, it } from 'vitest';
import { fastfoodBackwardRef, fastfoodRef, type FastfoodRefParams } from '../../src/reference/fastfood.js';
import { fwhtRef } from '../../src/reference/fwht.js';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}
const rand = (n: number, r: () => number) => Float64Array.from({ length: n }, r);
function perm(blocks: number, d: number, r: () => number): Uint32Array {
  const p = new Uint32Array(blocks * d);
  for (let k = 0; k < blocks; k++) {
    const q = Array.from({ length: d }, (_, i) => i);
    for (let i = d - 1; i > 0; i--) { const j = Math.floor((r() + 0.5) * (i + 1)); [q[i], q[j]] = [q[j]!, q[i]!]; }
    p.set(q, k * d);
  }
  return p;
}

describe('fwht reference', () => {
  it.each([1, 2, 8, 64, 1024])('fwht(fwht(x)) = d·x and matches the matrix definition (d=%i)', (d) => {
    const x = rand(3 * d, rng(d));
    const yy = fwhtRef(fwhtRef(x, d), d);
    for (let i = 0; i < x.length; i++) expect(yy[i]).toBeCloseTo(d * x[i]!, 9);
    if (d <= 64) {
      const y = fwhtRef(x, d, 0.5);
      for (let r = 0; r < 3; r++) for (let i = 0; i < d; i++) {
        let s = 0;
        for (let j = 0; j < d; j++) {
          let b = i & j, c = 0;
          while (b) { c ^= b & 1; b >>= 1; }
          s += (c ? -1 : 1) * x[r * d + j]!;
        }
        expect(y[r * d + i]).toBeCloseTo(0.5 * s, 10);
      }
    }
  });
});

describe('fastfood reference', () => {
  it.each([
    [3, 5, 8, 2, 13],
    [2, 16, 16, 1, 16],
    [1, 3, 4, 3, 10],
  ])('backward matches finite differences (n=%i in=%i d=%i blocks=%i out=%i)', (n, inF, d, blocks, out) => {
    const r = rng(n * 1000 + d);
    const p: FastfoodRefParams = { B: rand(blocks * d, r), G: rand(blocks * d, r), S: rand(blocks * d, r), perm: perm(blocks, d, r), blocks, d, outFeatures: out };
    const x = rand(n * inF, r), dy = rand(n * out, r);
    const loss = (xx: Float64Array, pp: FastfoodRefParams) => fastfoodRef(xx, n, inF, pp).y.reduce((s, v, i) => s + v * dy[i]!, 0);
    const g = fastfoodBackwardRef(x, n, inF, p, dy);
    const h = 1e-6;
    const check = (v: Float64Array, grad: Float64Array, f: () => number) => {
      for (let i = 0; i < v.length; i++) {
        const o = v[i]!;
        v[i] = o + h; const lp = f();
        v[i] = o - h; const lm = f();
        v[i] = o;
        expect(grad[i]).toBeCloseTo((lp - lm) / (2 * h), 5);
      }
    };
    check(x, g.dx, () => loss(x, p));
    for (const key of ['B', 'G', 'S'] as const) {
      const v = p[key] as Float64Array;
      check(v, g[`d${key}`], () => loss(x, p));
    }
  });
});
