import { fwhtGlobalKernel, fwhtRowsKernel, rowGeometry, type RowTuning } from '../../kernels/fwht.wgsl.js';
import type { Dispatch, EncodeContext, GpuRuntime, Tensor } from '../gpu/runtime.js';
import type { FwhtOptions } from './types.js';
import { cpuAdapter } from './adapter.js';
import { dtype, fail } from './validate.js';

/** Longest row one workgroup transforms on its own (the rest is done by global passes). */
export function maxLocalFwht(ctx: Pick<EncodeContext, 'limits'>, x: Tensor): number {
  let d = 8192;
  while (d > 2 && d * 4 > ctx.limits.maxComputeWorkgroupStorageSize) d /= 2;
  while (d > 32 && rowGeometry(d, rowTuning(x, d)).T > ctx.limits.maxComputeInvocationsPerWorkgroup) d /= 2;
  return d;
}

/** Rows handed to each workgroup: enough workgroups to fill a GPU, and several rows per
 * workgroup once there are more rows than that (per-row setup is then amortised). */
export function rowsPerWorkgroup(groups: number, target = 1024): number {
  return Math.max(1, Math.ceil(groups / target));
}

/** Workgroups the row kernels aim for and values per invocation; 0 chooses by adapter (tests
 * and benchmarks may set them). */
export const ROW_TUNING: { targetWorkgroups: number; maxRegisters: number; swizzle?: boolean; subgroups?: boolean } = { targetWorkgroups: 0, maxRegisters: 0 };


/** How the row kernels are generated on x's adapter (kernels/fwht.wgsl.ts RowTuning).
 * - Registers: a GPU keeps 32 values per invocation (more threads, more barriers, which are cheap
 *   there). On a CPU adapter barriers switch coroutines, so rows use two phases (one transpose per
 *   H) with up to 2^ceil(k/2) values per invocation.
 * - Swizzle: bank-conflict-free workgroup-memory addressing, except on CPU adapters.
 * - Lanes: butterflies across subgroup lanes where the device has subgroups (kernels use them only
 *   where they save a transpose: on SwiftShader's 4-lane subgroups, rows of d ≤ 128). */
export function rowTuning(x: Tensor, d: number): RowTuning {
  const cpu = cpuAdapter(x);
  return {
    maxRegisters: ROW_TUNING.maxRegisters > 0 ? ROW_TUNING.maxRegisters : cpu ? Math.max(32, 2 ** Math.ceil(Math.log2(d) / 2)) : 32,
    swizzle: ROW_TUNING.swizzle ?? !cpu,
    lanes: (ROW_TUNING.subgroups ?? true) ? x.rt.subgroupLanes : 0,
  };
}

/** Workgroups to aim for. A CPU adapter (SwiftShader) runs a few workgroups per core at a time
 * and pays per workgroup for zeroing workgroup memory and loading B, G, S, perm: there, a few
 * long-lived workgroups measured ~5–10× faster than one row per workgroup (d = 1024, 256 rows). */
export function targetWorkgroups(x: Tensor): number {
  if (ROW_TUNING.targetWorkgroups > 0) return ROW_TUNING.targetWorkgroups;
  if (!cpuAdapter(x)) return 1024;
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 2;
  return 2 * cores;
}

const GLOBAL_BITS = 7;

/** dst = scale·H·src over rows of length d (src and dst distinct, both rows·d long). */
export function encodeFwhtRows(ctx: EncodeContext, src: Tensor, dst: Tensor, rows: number, d: number, scale: number): Dispatch[] {
  const local = Math.min(d, maxLocalFwht(ctx, src)), tuning = rowTuning(src, local);
  const out: Dispatch[] = [];
  const lrows = rows * (d / local), g = rowGeometry(local, tuning);
  const groups = Math.ceil(lrows / g.L), rpw = rowsPerWorkgroup(groups, targetWorkgroups(src));
  const passes: [number, number][] = [];
  for (let lo = Math.log2(local), k = Math.log2(d); lo < k; lo += GLOBAL_BITS) passes.push([Math.min(GLOBAL_BITS, k - lo), lo]);
  out.push({ kernel: fwhtRowsKernel(local, tuning), buffers: [src, dst], params: [lrows, rpw, passes.length ? 1 : scale], workgroups: Math.ceil(groups / rpw) });
  passes.forEach(([r, lo], i) => {
    const count = rows * d / 2 ** r;
    out.push({ kernel: fwhtGlobalKernel(r, lo, d), buffers: [dst], params: [count, i === passes.length - 1 ? scale : 1], workgroups: Math.ceil(count / 64) });
  });
  return out;
}

export function fwhtLength(op: string, x: Tensor): number {
  if (x.disposed) fail(op, 'x was used after dispose()');
  dtype(op, 'x', x, 'f32');
  const d = x.shape[x.shape.length - 1]!;
  if (d < 2 || (d & (d - 1)) !== 0) fail(op, `the last axis of x must be a power of two ≥ 2, got ${d} (shape [${x.shape}])`);
  return d;
}

/** y = scale·H·x along the last axis of x. */
export function encodeFwht(ctx: EncodeContext, x: Tensor, y: Tensor, scale = 1): Dispatch[] {
  const d = fwhtLength('fwht', x);
  if (y.size !== x.size) fail('fwht', `y has ${y.size} elements but x has ${x.size}`);
  if (!Number.isFinite(scale)) fail('fwht', `scale must be a finite number, got ${scale}`);
  return encodeFwhtRows(ctx, x, y, x.size / d, d, scale);
}

export async function fwht(rt: GpuRuntime, x: Tensor, opts: FwhtOptions = {}): Promise<Tensor> {
  fwhtLength('fwht', x);
  const scale = opts.scale ?? 1;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) fail('fwht', `scale must be a finite number, got ${scale}`);
  return rt.produce('fwht', () => rt.empty(x.shape, 'f32', 'fwht'), (y, ctx) => encodeFwht(ctx, x, y, scale));
}
