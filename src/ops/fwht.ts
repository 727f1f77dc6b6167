import { fwhtGlobalKernel, fwhtGlobalWorkgroups, fwhtRowsKernel, rowGeometry, type RowTuning } from '../../kernels/fwht.wgsl.js';
import type { Dispatch, EncodeContext, GpuRuntime, Tensor, TensorRef } from '../gpu/runtime.js';
import type { FwhtOptions } from './types.js';
import { dtype, fail, operand } from './validate.js';

/** Longest row one workgroup transforms on its own (the rest is done by global passes). */
export function maxLocalFwht(ctx: RowContext): number {
  let d = 8192;
  while (d > 2 && d * 4 > ctx.limits.maxComputeWorkgroupStorageSize) d /= 2;
  while (d > 32 && rowGeometry(d, rowTuning(ctx, d)).T > ctx.limits.maxComputeInvocationsPerWorkgroup) d /= 2;
  return d;
}

/** Rows handed to each workgroup: enough workgroups to fill a GPU, and several rows per
 * workgroup once there are more rows than that (per-row setup is then amortised). */
export function rowsPerWorkgroup(groups: number, target = 1024): number {
  return Math.max(1, Math.ceil(groups / target));
}

/** What the row kernels' choices depend on. */
export type RowContext = Pick<EncodeContext, 'limits' | 'tuning' | 'subgroupLanes'>;

/** How the row kernels are generated (kernels/fwht.wgsl.ts RowTuning) from the runtime's
 * Tuning.rows: values per invocation (by row length unless set), swizzled addresses, and
 * butterflies across subgroup lanes where the device has subgroups (kernels use them only where
 * they save a transpose: on SwiftShader's 4-lane subgroups, rows of d ≤ 128). */
export function rowTuning(ctx: RowContext, d: number): RowTuning {
  const t = ctx.tuning.rows;
  return {
    maxRegisters: t.maxRegisters > 0 ? t.maxRegisters : ctx.tuning.cpu ? Math.max(32, 2 ** Math.ceil(Math.log2(d) / 2)) : 32,
    swizzle: t.swizzle,
    lanes: t.subgroups ? ctx.subgroupLanes : 0,
  };
}

const GLOBAL_BITS = 7;

/** dst = scale·H·src over rows of length d (src and dst distinct, both rows·d long). */
export function encodeFwhtRows(ctx: EncodeContext, src: TensorRef, dst: TensorRef, rows: number, d: number, scale: number): Dispatch[] {
  const local = Math.min(d, maxLocalFwht(ctx)), tuning = rowTuning(ctx, local);
  const out: Dispatch[] = [];
  const lrows = rows * (d / local), g = rowGeometry(local, tuning);
  const groups = Math.ceil(lrows / g.L), rpw = rowsPerWorkgroup(groups, ctx.tuning.rows.targetWorkgroups);
  const passes: [number, number][] = [];
  for (let lo = Math.log2(local), k = Math.log2(d); lo < k; lo += GLOBAL_BITS) passes.push([Math.min(GLOBAL_BITS, k - lo), lo]);
  out.push({ kernel: fwhtRowsKernel(local, tuning), buffers: [src, dst], params: { rows: lrows, rpw, scale: passes.length ? 1 : scale }, workgroups: Math.ceil(groups / rpw) });
  passes.forEach(([r, lo], i) => {
    const count = rows * d / 2 ** r;
    out.push({ kernel: fwhtGlobalKernel(r, lo, d), buffers: [dst], params: { count, scale: i === passes.length - 1 ? scale : 1 }, workgroups: fwhtGlobalWorkgroups(count) });
  });
  return out;
}

export function fwhtLength(op: string, x: TensorRef): number {
  operand(op, 'x', x);
  dtype(op, 'x', x, 'f32');
  const d = x.shape[x.shape.length - 1]!;
  if (d < 2 || (d & (d - 1)) !== 0) fail(op, `the last axis of x must be a power of two ≥ 2, got ${d} (shape [${x.shape}])`);
  return d;
}

/** y = scale·H·x along the last axis of x. */
export function encodeFwht(ctx: EncodeContext, x: TensorRef, y: TensorRef, scale = 1): Dispatch[] {
  const d = fwhtLength('fwht', x);
  if (y.size !== x.size) fail('fwht', `y has ${y.size} elements but x has ${x.size}`);
  if (!Number.isFinite(scale)) fail('fwht', `scale must be a finite number, got ${scale}`);
  return encodeFwhtRows(ctx, x, y, x.size / d, d, scale);
}

export function fwht(rt: GpuRuntime, x: Tensor, opts: FwhtOptions = {}): Tensor {
  fwhtLength('fwht', x);
  const scale = opts.scale ?? 1;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) fail('fwht', `scale must be a finite number, got ${scale}`);
  return rt.op('fwht', () => rt.empty(x.shape, 'f32', 'fwht'), (y, ctx) => encodeFwht(ctx, x, y, scale));
}
