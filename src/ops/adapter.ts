// Choices the ops make per adapter, where CPU drivers (SwiftShader) and GPUs reward different code.
import type { Tensor } from '../gpu/runtime.js';

export function cpuAdapter(x: Tensor): boolean {
  const a = x.rt.adapterInfo;
  return a.isFallbackAdapter || /swiftshader|llvmpipe|cpu/i.test(`${a.architecture} ${a.description}`);
}

/** Tests and benchmarks may force the matmul's largest register tile. */
export const MATMUL_TUNING: { maxTile?: 8 | 16 } = {};

/** Largest matmul register tile (kernels/matmul.wgsl.ts matmulVariant) for an m×n×k product on
 * x's adapter: 16×16 on a CPU adapter, where loads bound the speed and a bigger tile needs fewer
 * per FMA (on SwiftShader the MNIST conv2 backward products and the reference net's linear
 * products ran 1.2–1.4× faster than with 8×8, timed side by side in one run), for products of at
 * least 2^22 multiply-adds (below that its longer compile is not won back); 8×8 on a GPU, where
 * 256 accumulators would spill. */
export const matmulMaxTile = (x: Tensor, m: number, n: number, k: number): 8 | 16 =>
  MATMUL_TUNING.maxTile ?? (cpuAdapter(x) && m * n * k >= 2 ** 22 ? 16 : 8);
