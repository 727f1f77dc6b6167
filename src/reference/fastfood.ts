// float64 reference of Adaptive Fastfood (DESIGN.md §3, §4), forward and backward.
import { fwhtInPlace } from './fwht.js';

export interface FastfoodRefParams {
  B: ArrayLike<number>;
  G: ArrayLike<number>;
  S: ArrayLike<number>;
  perm: ArrayLike<number>;
  blocks: number;
  d: number;
  outFeatures: number;
}

export interface FastfoodRefForward { y: Float64Array; a3: Float64Array; a5: Float64Array }

/** x [n, inFeatures] → y [n, outFeatures]; also a3, a5 [n, blocks, d]. */
export function fastfoodRef(x: ArrayLike<number>, n: number, inFeatures: number, p: FastfoodRefParams): FastfoodRefForward {
  const { blocks, d, outFeatures } = p;
  const y = new Float64Array(n * outFeatures);
  const a3 = new Float64Array(n * blocks * d), a5 = new Float64Array(n * blocks * d);
  const v = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < blocks; k++) {
      const o = k * d, s = (r * blocks + k) * d;
      for (let i = 0; i < d; i++) v[i] = i < inFeatures ? p.B[o + i]! * x[r * inFeatures + i]! : 0;
      fwhtInPlace(v, 0, d);
      for (let i = 0; i < d; i++) a3[s + i] = v[p.perm[o + i]!]!;
      for (let i = 0; i < d; i++) a5[s + i] = p.G[o + i]! * a3[s + i]!;
      fwhtInPlace(a5, s, d);
      for (let i = 0; i < d && o + i < outFeatures; i++) y[r * outFeatures + o + i] = p.S[o + i]! * a5[s + i]!;
    }
  }
  return { y, a3, a5 };
}

export interface FastfoodRefGrads { dx: Float64Array; dB: Float64Array; dG: Float64Array; dS: Float64Array }

/** Gradients of Σ dy ⊙ y with respect to x, B, G, S (dB, dG, dS summed over the batch). */
export function fastfoodBackwardRef(x: ArrayLike<number>, n: number, inFeatures: number, p: FastfoodRefParams, dy: ArrayLike<number>): FastfoodRefGrads {
  const { blocks, d, outFeatures } = p;
  const { a3, a5 } = fastfoodRef(x, n, inFeatures, p);
  const dx = new Float64Array(n * inFeatures);
  const dB = new Float64Array(blocks * d), dG = new Float64Array(blocks * d), dS = new Float64Array(blocks * d);
  const g4 = new Float64Array(d), g1 = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < blocks; k++) {
      const o = k * d, s = (r * blocks + k) * d;
      for (let i = 0; i < d; i++) {
        const g = o + i < outFeatures ? dy[r * outFeatures + o + i]! : 0;
        dS[o + i]! += g * a5[s + i]!;
        g4[i] = p.S[o + i]! * g;
      }
      fwhtInPlace(g4, 0, d);
      for (let i = 0; i < d; i++) {
        dG[o + i]! += g4[i]! * a3[s + i]!;
        g1[p.perm[o + i]!] = p.G[o + i]! * g4[i]!;
      }
      fwhtInPlace(g1, 0, d);
      for (let i = 0; i < inFeatures; i++) {
        dB[o + i]! += g1[i]! * x[r * inFeatures + i]!;
        dx[r * inFeatures + i]! += p.B[o + i]! * g1[i]!;
      }
    }
  }
  return { dx, dB, dG, dS };
}
