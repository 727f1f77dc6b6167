// fastfoodInit: the paper's initialisation as host arrays. The Fastfood map it makes must behave
// like a Gaussian matrix with N(0, 1/σ²) entries: each row's norm is ‖s_i‖/σ with ‖s_i‖ ~ χ_d
// (rows taken from the float64 reference applied to the unit vectors).
import { describe, expect, it } from 'vitest';
import { fastfoodInit } from '../../src/nn/layers.js';
import { fastfoodRef } from '../../src/reference/fastfood.js';
import { seeded } from '../../src/util/random.js';

describe('fastfoodInit', () => {
  it('B is ±1, perm a permutation per block, shapes follow inFeatures and outFeatures', () => {
    const f = fastfoodInit(800, 2500, seeded(3));
    expect([f.d, f.blocks, f.B.length, f.G.length, f.S.length, f.perm.length]).toEqual([1024, 3, 3072, 3072, 3072, 3072]);
    expect(f.B.every((b) => b === 1 || b === -1)).toBe(true);
    for (let k = 0; k < f.blocks; k++) {
      const block = [...f.perm.subarray(k * f.d, (k + 1) * f.d)].sort((a, b) => a - b);
      expect(block.every((v, i) => v === i)).toBe(true);
    }
    expect(fastfoodInit(800, 2500, seeded(3)).S).toEqual(f.S); // deterministic for a seed
  });

  it('the map is scaled like an N(0, 1/σ²) Gaussian matrix: row norms² average d/σ²', () => {
    const inF = 200, d = 256, sigma = 3;
    const f = fastfoodInit(inF, d, seeded(11), { sigma });
    const eye = new Float64Array(d * d);
    for (let i = 0; i < d; i++) eye[i * d + i] = 1;
    // y = V·e_j for every unit vector of the padded input: column j of V (d inputs, zero-padding off)
    const { y } = fastfoodRef(eye, d, d, { ...f, outFeatures: d });
    let mean = 0;
    for (let i = 0; i < d; i++) {
      let row = 0;
      for (let j = 0; j < d; j++) row += y[j * d + i]! ** 2;
      mean += row / d;
    }
    // E‖s_i‖² = d; the mean over 256 rows of χ²_256 / 256 has a standard deviation of 0.0055
    expect(mean * sigma ** 2 / d).toBeGreaterThan(0.96);
    expect(mean * sigma ** 2 / d).toBeLessThan(1.04);
  });

  it('rejects bad sizes with a named error', () => {
    expect(() => fastfoodInit(0, 10, seeded(1))).toThrow(/inFeatures must be a positive integer, got 0/);
    expect(() => fastfoodInit(10, 2.5, seeded(1))).toThrow(/outFeatures must be a positive integer, got 2.5/);
    expect(() => fastfoodInit(100, 10, seeded(1), { d: 64 })).toThrow(/d must be a power of two ≥ 2 and ≥ inFeatures = 100, got 64/);
    expect(() => fastfoodInit(100, 10, seeded(1), { sigma: 0 })).toThrow(/sigma must be a positive number/);
  });
});
