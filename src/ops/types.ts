import type { Tensor } from '../gpu/runtime.js';

export type Pair = number | readonly [number, number];

export interface FwhtOptions { scale?: number }

/** Fastfood parameters (DESIGN.md §3). B, G, S: [blocks, d]; perm: [blocks, d], (Πv)[i] = v[perm[i]]. */
export interface FastfoodParams {
  B: Tensor;
  G: Tensor;
  S: Tensor;
  perm: Uint32Array | Tensor;
  outFeatures: number;
}
export interface FastfoodGrads { dx: Tensor; dB: Tensor; dG: Tensor; dS: Tensor }

export interface Conv2dOptions { stride?: Pair; padding?: Pair; relu?: boolean }
export interface ConvGrads { dx: Tensor; dw: Tensor; db: Tensor }
export interface PoolOptions { kernel: Pair; stride?: Pair; padding?: Pair }
export interface LinearGrads { dx: Tensor; dw: Tensor; db: Tensor }

export function pair(v: Pair | undefined, dflt: number, what: string): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((x) => Number.isInteger(x))) throw new Error(`deepfried: ${what} must be an integer or [h, w] pair, got ${JSON.stringify(v)}`);
  return p;
}
