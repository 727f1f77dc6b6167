// Choices the ops make from the runtime's tuning (src/gpu/tuning.ts), where CPU drivers
// (SwiftShader) and GPUs reward different code.
import type { EncodeContext } from '../gpu/runtime.js';

/** Largest matmul register tile (kernels/matmul.wgsl.ts matmulVariant) for an m×n×k product:
 * Tuning.matmul.maxTile, or with 'auto' 16×16 on a CPU adapter for products of at least 2^22
 * multiply-adds and 8×8 otherwise (the measurements are in Tuning's doc). */
export const matmulMaxTile = (ctx: Pick<EncodeContext, 'tuning'>, m: number, n: number, k: number): 8 | 16 => {
  const t = ctx.tuning.matmul.maxTile;
  return t !== 'auto' ? t : ctx.tuning.cpu && m * n * k >= 2 ** 22 ? 16 : 8;
};
