import type { Tensor } from '../gpu/runtime.js';

/** A 2-D size: one number for both axes, or [h, w]. */
export type Pair = number | readonly [number, number];

/** Options of rt.fwht. */
export interface FwhtOptions {
  /** Factor applied to the transform (default 1; 1/√d makes it orthonormal). */
  scale?: number;
}

/** Fastfood parameters (DESIGN.md §3). B, G, S: [blocks, d]; perm: [blocks, d], (Πv)[i] = v[perm[i]]. */
export interface FastfoodParams {
  /** Random signs ±1, f32 [blocks, d]. */
  B: Tensor;
  /** Gaussian diagonal, f32 [blocks, d]. */
  G: Tensor;
  /** Scaling diagonal, f32 [blocks, d]. */
  S: Tensor;
  /** Permutation of 0..d−1 per block, [blocks, d]: a host array (uploaded per call) or a u32 tensor. */
  perm: Uint32Array | Tensor;
  /** Output features: the first outFeatures of the blocks·d stacked outputs. */
  outFeatures: number;
}
/** Gradients of rt.fastfoodBackward; dB, dG, dS are summed over the batch. */
export interface FastfoodGrads {
  /** Input gradient [N, inFeatures]. */
  dx: Tensor;
  /** Gradient of B, [blocks, d]. */
  dB: Tensor;
  /** Gradient of G, [blocks, d]. */
  dG: Tensor;
  /** Gradient of S, [blocks, d]. */
  dS: Tensor;
}

/** Options of conv2d. */
export interface Conv2dOptions {
  /** Stride (default 1). */
  stride?: Pair;
  /** Zero padding on each side (default 0). */
  padding?: Pair;
  /** Apply ReLU to the output, fused into the kernel (forward only; default false). */
  relu?: boolean;
}
/** Gradients of rt.conv2dBackward. */
export interface ConvGrads {
  /** Input gradient [N, Cin, H, W]. */
  dx: Tensor;
  /** Weight gradient [Cout, Cin, kh, kw]. */
  dw: Tensor;
  /** Bias gradient [Cout]. */
  db: Tensor;
}
/** Options of maxPool2d and avgPool2d. */
export interface PoolOptions {
  /** Window size. */
  kernel: Pair;
  /** Stride (default: the kernel size). */
  stride?: Pair;
  /** Padding on each side (default 0); padded cells are never the max and are left out of averages. */
  padding?: Pair;
}
/** Gradients of rt.linearBackward. */
export interface LinearGrads {
  /** Input gradient [N, in]. */
  dx: Tensor;
  /** Weight gradient [out, in]. */
  dw: Tensor;
  /** Bias gradient [out]. */
  db: Tensor;
}

/** @internal Resolves a Pair to [h, w] (`dflt` for both when undefined); throws naming `what`
 * unless both are integers. */
export function pair(v: Pair | undefined, dflt: number, what: string): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((x) => Number.isInteger(x))) throw new Error(`deepfried: ${what} must be an integer or [h, w] pair, got ${JSON.stringify(v)}`);
  return p;
}
