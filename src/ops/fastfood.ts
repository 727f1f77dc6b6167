import { fastfoodBackwardKernel, fastfoodForwardSplitKernel, fastfoodForwardKernel, fastfoodReduceKernel } from '../../kernels/fastfood.wgsl.js';
import {
  ffBwdDxKernel, ffBwdMidKernel, ffBwdPreKernel, ffColumnDotKernel, ffMidKernel, ffPostKernel, ffPreKernel,
} from '../../kernels/fastfood_multipass.wgsl.js';
import { rowGeometry } from '../../kernels/fwht.wgsl.js';
import { Tensor, type Dispatch, type EncodeContext, type GpuRuntime } from '../gpu/runtime.js';
import { encodeFwhtRows, maxLocalFwht, rowsPerWorkgroup, rowTuning, targetWorkgroups } from './fwht.js';
import type { FastfoodGrads, FastfoodParams } from './types.js';
import { cpuAdapter } from './adapter.js';
import { dtype, fail, rank } from './validate.js';

export interface FastfoodShape { n: number; inFeatures: number; d: number; blocks: number; outFeatures: number }
export interface FastfoodSaved { a3: Tensor; a5: Tensor }
/** FastfoodParams with perm on the GPU. */
export type FastfoodDeviceParams = FastfoodParams & { perm: Tensor };
export interface FastfoodBackwardOut { dx?: Tensor; dB: Tensor; dG: Tensor; dS: Tensor }

const OP = 'fastfood';
const pow2 = (d: number) => Number.isInteger(d) && d >= 2 && (d & (d - 1)) === 0;

/** Validates x (a tensor or its shape [n, inFeatures]) against the parameters; throws naming the problem. */
export function fastfoodShape(
  x: Tensor | readonly number[],
  p: FastfoodParams | { blocks: number; d: number; inFeatures: number; outFeatures: number },
): FastfoodShape {
  let shape: readonly number[];
  if (x instanceof Tensor) {
    rank(OP, 'x', x, 2, '[N, inFeatures]');
    dtype(OP, 'x', x, 'f32');
    shape = x.shape;
  } else {
    shape = x;
    if (shape.length !== 2) fail(OP, `x must have rank 2 ([N, inFeatures]), got shape [${shape}]`);
  }
  const [n, inFeatures] = shape as [number, number];
  let blocks: number, d: number;
  if ('B' in p) {
    for (const name of ['B', 'G', 'S'] as const) {
      const t = p[name];
      if (!(t instanceof Tensor)) fail(OP, `${name} must be a tensor [blocks, d]`);
      rank(OP, name, t, 2, '[blocks, d]');
      dtype(OP, name, t, 'f32');
    }
    [blocks, d] = p.B.shape as [number, number];
    for (const name of ['G', 'S'] as const) {
      const s = p[name].shape;
      if (s[0] !== blocks || s[1] !== d) fail(OP, `${name} has shape [${s}] but B has shape [${p.B.shape}]`);
    }
    if (!pow2(d)) fail(OP, `d (the last axis of B) must be a power of two ≥ 2, got ${d}`);
    const perm = p.perm;
    if (perm instanceof Tensor) {
      rank(OP, 'perm', perm, 2, '[blocks, d]');
      if (perm.dtype !== 'u32' && perm.dtype !== 'i32') fail(OP, `perm must be a u32 (or i32) tensor, got ${perm.dtype}`);
      if (perm.shape[0] !== blocks || perm.shape[1] !== d) fail(OP, `perm has shape [${perm.shape}] but B has shape [${p.B.shape}]`);
    } else if (perm instanceof Uint32Array) {
      if (perm.length !== blocks * d) fail(OP, `perm has ${perm.length} entries but needs blocks·d = ${blocks * d}`);
      checkPermutation(perm, blocks, d);
    } else {
      fail(OP, 'perm must be a Uint32Array or a u32 tensor [blocks, d]');
    }
  } else {
    ({ blocks, d } = p);
    if (!pow2(d)) fail(OP, `d must be a power of two ≥ 2, got ${d}`);
    if (!Number.isInteger(blocks) || blocks < 1) fail(OP, `blocks must be a positive integer, got ${blocks}`);
    if (p.inFeatures !== inFeatures) fail(OP, `x has ${inFeatures} features but inFeatures is ${p.inFeatures}`);
  }
  if (inFeatures > d) fail(OP, `inFeatures (${inFeatures}) must be ≤ d (${d})`);
  const out = p.outFeatures;
  if (!Number.isInteger(out) || out < 1) fail(OP, `outFeatures must be a positive integer, got ${out}`);
  if (out > blocks * d) fail(OP, `outFeatures (${out}) must be ≤ blocks·d (${blocks}·${d} = ${blocks * d})`);
  return { n, inFeatures, d, blocks, outFeatures: out };
}

function checkPermutation(perm: Uint32Array, blocks: number, d: number): void {
  const seen = new Uint32Array(d);
  for (let k = 0; k < blocks; k++) {
    for (let i = 0; i < d; i++) {
      const v = perm[k * d + i]!;
      if (v >= d) fail(OP, `perm is not a permutation: block ${k} has entry ${v} ≥ d = ${d} at ${i}`);
      if (seen[v] === k + 1) fail(OP, `perm is not a permutation: block ${k} repeats ${v}`);
      seen[v] = k + 1;
    }
  }
}

function expectShape(name: string, t: Tensor, shape: readonly number[]): void {
  if (t.disposed) fail(OP, `${name} was used after dispose()`);
  if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
    fail(OP, `${name} must have shape [${shape}], got [${t.shape}]`);
  }
}

/** One workgroup holds whole rows while d fits workgroup memory. The training kernels stop
 * earlier: each costs SwiftShader seconds to compile per 4 KiB of workgroup memory (see the
 * note in kernels/fastfood.wgsl.ts), and they run once per step next to far larger convolutions. */
const fused = (ctx: EncodeContext, x: Tensor, d: number, training: boolean) =>
  !FASTFOOD_OPTIONS.forceMultipass && d <= maxLocalFwht(ctx, x) && (!training || d <= FASTFOOD_OPTIONS.maxFusedTraining);

/** Inference rows of twice the longest fused row (d = 16384 with 32 KiB of workgroup memory, the
 * paper's ImageNet layers) in one pass, half a row at a time through workgroup memory. By default
 * on CPU adapters only, where it was measured (SwiftShader, 128×9216→16384: 2.2× faster than the
 * multi-pass path); on a GPU it holds 11 register arrays per invocation, not yet measured there. */
const splitRows = (ctx: EncodeContext, x: Tensor, d: number) =>
  splitRowsOn(x) && !FASTFOOD_OPTIONS.forceMultipass && splitRowsFit(ctx, x, d);
/** Whether rows of length d are the split-row kernel's: twice the longest fused row. */
export const splitRowsFit = (ctx: Pick<EncodeContext, 'limits'>, x: Tensor, d: number): boolean => d === 2 * maxLocalFwht(ctx, x) && d / 2 > 32;
/** Whether the split-row kernel is on for x's adapter (FASTFOOD_OPTIONS.splitRows). */
export const splitRowsOn = (x: Tensor): boolean => (FASTFOOD_OPTIONS.splitRows === 'cpu' ? cpuAdapter(x) : FASTFOOD_OPTIONS.splitRows);

function launch(x: Tensor, n: number, d: number): { rpw: number; workgroups: number; slots: number } {
  const L = rowGeometry(d, rowTuning(x, d)).L, groups = Math.ceil(n / L), rpw = rowsPerWorkgroup(groups, targetWorkgroups(x));
  const workgroups = Math.ceil(groups / rpw);
  return { rpw, workgroups, slots: workgroups * L };
}

/** Which multi-pass kernels may take 4 elements per invocation (kernels/fastfood_multipass.wgsl.ts):
 * those whose every group of 4 consecutive elements lies in one row and on one side of the
 * inFeatures / outFeatures edge. */
function multipassVec4(d: number, inF: number, outF: number): { d: boolean; inF: boolean; outF: boolean } {
  const dv = d % 4 === 0 && !FASTFOOD_OPTIONS.scalarMultipass;
  return { d: dv, inF: dv && inF % 4 === 0, outF: dv && outF % 4 === 0 };
}
/** Workgroups of 64 for `count` elements, 1 or 4 per invocation. */
const wg = (count: number, v4 = false) => Math.ceil(count / (v4 ? 256 : 64));

/** Tuning of the fused kernels: the longest row of the fused training kernels, where inference
 * rows of twice workgroup memory run fused ('cpu': on CPU adapters) and (for tests) forcing the
 * multi-pass path, or its one-element-per-invocation kernels. */
export const FASTFOOD_OPTIONS: { maxFusedTraining: number; forceMultipass: boolean; scalarMultipass: boolean; splitRows: 'cpu' | boolean } =
  { maxFusedTraining: 2048, forceMultipass: false, scalarMultipass: false, splitRows: 'cpu' };

/** y = Fastfood(x); with `saved`, the training variant also writes a3 and a5 [N, blocks, d]. */
export function encodeFastfood(ctx: EncodeContext, x: Tensor, p: FastfoodDeviceParams, y: Tensor, saved?: FastfoodSaved): Dispatch[] {
  const s = fastfoodShape(x, p), { n, inFeatures, d, blocks, outFeatures } = s;
  expectShape('y', y, [n, outFeatures]);
  if (saved) for (const k of ['a3', 'a5'] as const) expectShape(k, saved[k], [n, blocks, d]);
  const params = [n, 0, inFeatures, outFeatures, blocks];
  if (!saved && splitRows(ctx, x, d)) {
    const { rpw, workgroups } = launch(x, n, d);
    params[1] = rpw;
    return [{
      kernel: fastfoodForwardSplitKernel(d, ctx.limits.maxComputeWorkgroupStorageSize, rowTuning(x, d / 2), { vecX: inFeatures % 4 === 0, vecY: outFeatures % 4 === 0 }),
      buffers: [x, p.B, p.G, p.S, p.perm, y], params, workgroups,
    }];
  }
  if (fused(ctx, x, d, !!saved)) {
    const { rpw, workgroups } = launch(x, n, d);
    params[1] = rpw;
    const storage = ctx.limits.maxComputeWorkgroupStorageSize;
    return [{
      kernel: fastfoodForwardKernel(d, !!saved, storage, rowTuning(x, d), { vecX: inFeatures % 4 === 0, vecY: outFeatures % 4 === 0 }),
      buffers: [x, p.B, p.G, p.S, p.perm, y, ...(saved ? [saved.a3, saved.a5] : [])], params, workgroups,
    }];
  }
  const total = n * blocks * d, dims = [total, d, blocks, inFeatures, outFeatures];
  const t = ctx.scratch([n, blocks, d], 'f32', 'fastfood a1'), u = ctx.scratch([n, blocks, d], 'f32', 'fastfood a2');
  const a5 = saved?.a5 ?? ctx.scratch([n, blocks, d], 'f32', 'fastfood a5');
  const v = multipassVec4(d, inFeatures, outFeatures);
  return [
    { kernel: ffPreKernel(v.inF), buffers: [x, p.B, t], params: dims, workgroups: wg(total, v.inF) },
    ...encodeFwhtRows(ctx, t, u, n * blocks, d, 1),
    { kernel: ffMidKernel(!!saved, v.d), buffers: [u, p.G, p.perm, t, ...(saved ? [saved.a3] : [])], params: dims, workgroups: wg(total, v.d) },
    ...encodeFwhtRows(ctx, t, a5, n * blocks, d, 1),
    { kernel: ffPostKernel(v.outF), buffers: [a5, p.S, y], params: [n * outFeatures, d, blocks, inFeatures, outFeatures], workgroups: wg(n * outFeatures, v.outF) },
  ];
}

/** Gradients from the saved a3, a5 of the training forward; dB, dG, dS are summed over the batch. */
export function encodeFastfoodBackward(
  ctx: EncodeContext, x: Tensor, p: FastfoodDeviceParams, dy: Tensor, saved: FastfoodSaved, out: FastfoodBackwardOut,
): Dispatch[] {
  const { n, inFeatures, d, blocks, outFeatures } = fastfoodShape(x, p);
  expectShape('dy', dy, [n, outFeatures]);
  for (const k of ['a3', 'a5'] as const) expectShape(k, saved[k], [n, blocks, d]);
  if (out.dx) expectShape('dx', out.dx, [n, inFeatures]);
  for (const k of ['dB', 'dG', 'dS'] as const) expectShape(k, out[k], [blocks, d]);
  const M = blocks * d;
  if (fused(ctx, x, d, true)) {
    const { rpw, workgroups, slots } = launch(x, n, d);
    const part = ctx.scratch([3, slots, M], 'f32', 'fastfood partials');
    const storage = ctx.limits.maxComputeWorkgroupStorageSize;
    return [
      {
        kernel: fastfoodBackwardKernel(d, !!out.dx, storage, rowTuning(x, d)),
        buffers: [x, p.B, p.G, p.S, p.perm, dy, saved.a3, saved.a5, part, ...(out.dx ? [out.dx] : [])],
        params: [n, rpw, inFeatures, outFeatures, blocks, workgroups], workgroups,
      },
      { kernel: fastfoodReduceKernel(), buffers: [part, out.dB, out.dG, out.dS], params: [M, slots], workgroups: Math.ceil(M / 64) },
    ];
  }
  const total = n * M, dims = [total, d, blocks, inFeatures, outFeatures];
  const u = ctx.scratch([n, blocks, d], 'f32', 'fastfood g'), g4 = ctx.scratch([n, blocks, d], 'f32', 'fastfood g4');
  const v = multipassVec4(d, inFeatures, outFeatures);
  const coldot = (a: Tensor, b: Tensor, o: Tensor, ap: number[], bp: number[]): Dispatch => {
    const v4 = v.d && [...ap, ...bp].every((e) => e % 4 === 0);
    return { kernel: ffColumnDotKernel(v4), buffers: [a, b, o], params: [M, n, ...ap, ...bp], workgroups: wg(M, v4) };
  };
  return [
    { kernel: ffBwdPreKernel(v.outF), buffers: [dy, p.S, u], params: dims, workgroups: wg(total, v.outF) },
    ...encodeFwhtRows(ctx, u, g4, n * blocks, d, 1),
    coldot(dy, saved.a5, out.dS, [outFeatures, outFeatures, M], [M, M, M]),
    coldot(g4, saved.a3, out.dG, [M, M, M], [M, M, M]),
    { kernel: ffBwdMidKernel(v.d), buffers: [g4, p.G, p.perm, u], params: dims, workgroups: wg(total, v.d) },
    ...encodeFwhtRows(ctx, u, g4, n * blocks, d, 1),
    coldot(g4, x, out.dB, [M, M, M], [inFeatures, inFeatures, d]),
    ...(out.dx ? [{ kernel: ffBwdDxKernel(v.inF), buffers: [g4, p.B, out.dx], params: [n * inFeatures, d, blocks, inFeatures, outFeatures], workgroups: wg(n * inFeatures, v.inF) }] : []),
  ];
}

/** perm on the GPU: the caller's tensor, or a per-call upload of a Uint32Array (disposed by `done`). */
function devicePerm(rt: GpuRuntime, p: FastfoodParams): { dp: FastfoodDeviceParams; done: () => void } {
  if (p.perm instanceof Tensor) return { dp: p as FastfoodDeviceParams, done: () => {} };
  const t = rt.tensor(p.perm, p.B.shape);
  return { dp: { ...p, perm: t }, done: () => t.dispose() };
}

export async function fastfood(rt: GpuRuntime, x: Tensor, p: FastfoodParams): Promise<Tensor> {
  const { n, outFeatures } = fastfoodShape(x, p);
  const { dp, done } = devicePerm(rt, p);
  try {
    return await rt.produce('fastfood', () => rt.empty([n, outFeatures], 'f32', 'fastfood y'), (y, ctx) => encodeFastfood(ctx, x, dp, y));
  } finally {
    done();
  }
}

export async function fastfoodBackward(rt: GpuRuntime, x: Tensor, p: FastfoodParams, dy: Tensor): Promise<FastfoodGrads> {
  const { n, inFeatures, d, blocks, outFeatures } = fastfoodShape(x, p);
  expectShape('dy', dy, [n, outFeatures]);
  dtype(OP, 'dy', dy, 'f32');
  const { dp, done } = devicePerm(rt, p);
  try {
    return await rt.produce('fastfoodBackward', () => ({
      dx: rt.empty([n, inFeatures], 'f32', 'fastfood dx'),
      dB: rt.empty([blocks, d], 'f32', 'fastfood dB'),
      dG: rt.empty([blocks, d], 'f32', 'fastfood dG'),
      dS: rt.empty([blocks, d], 'f32', 'fastfood dS'),
    }), (out, ctx) => {
      const saved = { a3: ctx.scratch([n, blocks, d], 'f32', 'fastfood a3'), a5: ctx.scratch([n, blocks, d], 'f32', 'fastfood a5') };
      const y = ctx.scratch([n, outFeatures], 'f32', 'fastfood y');
      return [...encodeFastfood(ctx, x, dp, y, saved), ...encodeFastfoodBackward(ctx, x, dp, dy, saved, out)];
    });
  } finally {
    done();
  }
}
