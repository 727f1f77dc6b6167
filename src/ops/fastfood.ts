import { fastfoodBackwardKernel, fastfoodForwardSplitKernel, fastfoodForwardKernel, fastfoodReduceKernel, fastfoodReduceWorkgroups } from '../../kernels/fastfood.wgsl.js';
import {
  ffBwdDxKernel, ffBwdMidKernel, ffBwdPreKernel, ffColumnDotKernel, ffMidKernel, ffPostKernel, ffPreKernel,
} from '../../kernels/fastfood_multipass.wgsl.js';
import { rowGeometry } from '../../kernels/fwht.wgsl.js';
import { Tensor, type Dispatch, type EncodeContext, type GpuRuntime, type TensorRef } from '../gpu/runtime.js';
import type { IntArray } from '../gpu/tensor.js';
import { encodeFwhtRows, maxLocalFwht, rowsPerWorkgroup, rowTuning, type RowContext } from './fwht.js';
import type { FastfoodGrads, FastfoodParams } from './types.js';
import { dtype, fail, operand, rank } from './validate.js';

/** The sizes of a Fastfood call, from fastfoodShape. */
export interface FastfoodShape {
  /** Rows (batch size) N. */
  n: number;
  /** Input features (x's last axis). */
  inFeatures: number;
  /** Block length, a power of two ≥ inFeatures. */
  d: number;
  /** Number of blocks. */
  blocks: number;
  /** Output features (≤ blocks·d). */
  outFeatures: number;
}
/** Intermediates the training forward saves for the backward, each f32 [N, blocks, d]. */
export interface FastfoodSaved {
  /** Π·H·B·x per block. */
  a3: TensorRef;
  /** H·G·a3 per block (y = S·a5, truncated to outFeatures). */
  a5: TensorRef;
}
/** Fastfood parameters as an encoder takes them: every one on the GPU (tensors or graph values). */
export interface FastfoodDeviceParams {
  /** Random signs ±1, f32 [blocks, d]. */
  B: TensorRef;
  /** Gaussian diagonal, f32 [blocks, d]. */
  G: TensorRef;
  /** Scaling diagonal, f32 [blocks, d]. */
  S: TensorRef;
  /** Permutation of 0..d−1 per block, u32 [blocks, d]. */
  perm: TensorRef;
  /** Output features. */
  outFeatures: number;
}
/** Where encodeFastfoodBackward writes; dB, dG, dS are summed over the batch. */
export interface FastfoodBackwardOut {
  /** Input gradient [N, inFeatures]; omit it when not needed. */
  dx?: TensorRef;
  /** Gradient of B, [blocks, d]. */
  dB: TensorRef;
  /** Gradient of G, [blocks, d]. */
  dG: TensorRef;
  /** Gradient of S, [blocks, d]. */
  dS: TensorRef;
}

const OP = 'fastfood';
const pow2 = (d: number) => Number.isInteger(d) && d >= 2 && (d & (d - 1)) === 0;

/** Validates x (a tensor or its shape [n, inFeatures]) against the parameters; throws naming the problem. */
export function fastfoodShape(
  x: TensorRef | readonly number[],
  p: FastfoodParams | FastfoodDeviceParams | { blocks: number; d: number; inFeatures: number; outFeatures: number },
  knownPerm = false,
): FastfoodShape {
  let shape: readonly number[];
  if (!Array.isArray(x)) {
    x = x as TensorRef;
    rank(OP, 'x', x, 2, '[N, inFeatures]');
    dtype(OP, 'x', x, 'f32');
    shape = x.shape;
  } else {
    shape = x as readonly number[];
    if (shape.length !== 2) fail(OP, `x must have rank 2 ([N, inFeatures]), got shape [${shape}]`);
  }
  const [n, inFeatures] = shape as [number, number];
  let blocks: number, d: number;
  if ('B' in p) {
    for (const name of ['B', 'G', 'S'] as const) {
      const t = p[name];
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
    if (perm instanceof Uint32Array) {
      if (perm.length !== blocks * d) fail(OP, `perm has ${perm.length} entries but needs blocks·d = ${blocks * d}`);
      checkPermutation(perm, blocks, d);
    } else if (perm && typeof perm === 'object' && 'shape' in perm) {
      rank(OP, 'perm', perm, 2, '[blocks, d]');
      if (perm.dtype !== 'u32' && perm.dtype !== 'i32') fail(OP, `perm must be a u32 (or i32) tensor, got ${perm.dtype}`);
      if (perm.shape[0] !== blocks || perm.shape[1] !== d) fail(OP, `perm has shape [${perm.shape}] but B has shape [${p.B.shape}]`);
      // The backward's gathers assume a permutation (a repeat would race without a word): checked
      // wherever the host knows the values (tensors made by rt.tensor()/rt.write()). The eager ops
      // insist on that (knownPerm); encoders on a caller's buffers take the caller's word for it.
      const host = perm instanceof Tensor ? perm.host : undefined;
      if (host) checkPermutation(host, blocks, d);
      else if (knownPerm) fail(OP, 'perm must be a Uint32Array or a tensor uploaded from one (rt.tensor): its values are checked to be a permutation of each block');
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

/** Host arrays already found to be permutations (rt.write() replaces a tensor's host array). */
const checked = new WeakSet<IntArray>();

function checkPermutation(perm: IntArray, blocks: number, d: number): void {
  if (checked.has(perm)) return;
  const seen = new Uint32Array(d);
  for (let k = 0; k < blocks; k++) {
    for (let i = 0; i < d; i++) {
      const v = perm[k * d + i]!;
      if (v < 0 || v >= d) fail(OP, `perm is not a permutation: block ${k} has entry ${v} outside [0, ${d}) at ${i}`);
      if (seen[v] === k + 1) fail(OP, `perm is not a permutation: block ${k} repeats ${v}`);
      seen[v] = k + 1;
    }
  }
  checked.add(perm);
}

function expectShape(name: string, t: TensorRef, shape: readonly number[]): void {
  operand(OP, name, t);
  if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
    fail(OP, `${name} must have shape [${shape}], got [${t.shape}]`);
  }
}

/** One workgroup holds whole rows while d fits workgroup memory; the training kernels stop at
 * Tuning.fastfood.maxFusedTraining (see its note), and need 10 storage buffers per stage (the
 * fused backward's): a device with WebGPU's default of 8 (tfjs's, a caller's) trains multi-pass. */
const fused = (ctx: EncodeContext, d: number, training: boolean) => ctx.tuning.fastfood.path !== 'multipass' &&
  d <= maxLocalFwht(ctx) && (!training || (d <= ctx.tuning.fastfood.maxFusedTraining && ctx.limits.maxStorageBuffersPerShaderStage >= FUSED_BACKWARD_BUFFERS));
/** Storage buffers bound by the fused backward (kernels/fastfood.wgsl.ts, fastfoodBackwardKernel with dx). */
const FUSED_BACKWARD_BUFFERS = 10;

/** Inference rows of twice the longest fused row (d = 16384 with 32 KiB of workgroup memory, the
 * paper's ImageNet layers) in one pass, half a row at a time through workgroup memory, where
 * Tuning.fastfood.splitRows says so (CPU adapters by default; see its note). */
const splitRows = (ctx: EncodeContext, d: number) =>
  ctx.tuning.fastfood.splitRows && ctx.tuning.fastfood.path !== 'multipass' && splitRowsFit(ctx, d);
/** Whether rows of length d are the split-row kernel's: twice the longest fused row. */
export const splitRowsFit = (ctx: RowContext, d: number): boolean => d === 2 * maxLocalFwht(ctx) && d / 2 > 32;

function launch(ctx: EncodeContext, n: number, d: number): { rpw: number; workgroups: number; slots: number } {
  const L = rowGeometry(d, rowTuning(ctx, d)).L, groups = Math.ceil(n / L), rpw = rowsPerWorkgroup(groups, ctx.tuning.rows.targetWorkgroups);
  const workgroups = Math.ceil(groups / rpw);
  return { rpw, workgroups, slots: workgroups * L };
}

/** Which multi-pass kernels may take 4 elements per invocation (kernels/fastfood_multipass.wgsl.ts):
 * those whose every group of 4 consecutive elements lies in one row and on one side of the
 * inFeatures / outFeatures edge. */
function multipassVec4(ctx: EncodeContext, d: number, inF: number, outF: number): { d: boolean; inF: boolean; outF: boolean } {
  const dv = d % 4 === 0 && ctx.tuning.fastfood.vec4Multipass;
  return { d: dv, inF: dv && inF % 4 === 0, outF: dv && outF % 4 === 0 };
}
/** Workgroups of 64 for `count` elements, 1 or 4 per invocation. */
const wg = (count: number, v4 = false) => Math.ceil(count / (v4 ? 256 : 64));

/** y = Fastfood(x); with `saved`, the training variant also writes a3 and a5 [N, blocks, d]. */
export function encodeFastfood(ctx: EncodeContext, x: TensorRef, p: FastfoodDeviceParams, y: TensorRef, saved?: FastfoodSaved): Dispatch[] {
  const s = fastfoodShape(x, p), { n, inFeatures, d, blocks, outFeatures } = s;
  expectShape('y', y, [n, outFeatures]);
  if (saved) for (const k of ['a3', 'a5'] as const) expectShape(k, saved[k], [n, blocks, d]);
  const params = { rows: n, rpw: 0, inF: inFeatures, outF: outFeatures, blocks };
  if (!saved && splitRows(ctx, d)) {
    const { rpw, workgroups } = launch(ctx, n, d);
    params.rpw = rpw;
    return [{
      kernel: fastfoodForwardSplitKernel(d, ctx.limits.maxComputeWorkgroupStorageSize, rowTuning(ctx, d / 2), { vecX: inFeatures % 4 === 0, vecY: outFeatures % 4 === 0 }),
      buffers: [x, p.B, p.G, p.S, p.perm, y], params, workgroups,
    }];
  }
  if (fused(ctx, d, !!saved)) {
    const { rpw, workgroups } = launch(ctx, n, d);
    params.rpw = rpw;
    const storage = ctx.limits.maxComputeWorkgroupStorageSize;
    return [{
      kernel: fastfoodForwardKernel(d, !!saved, storage, rowTuning(ctx, d), { vecX: inFeatures % 4 === 0, vecY: outFeatures % 4 === 0 }),
      buffers: [x, p.B, p.G, p.S, p.perm, y, ...(saved ? [saved.a3, saved.a5] : [])], params, workgroups,
    }];
  }
  const total = n * blocks * d, dims = { total, d, blocks, inF: inFeatures, outF: outFeatures };
  const t = ctx.scratch([n, blocks, d], 'f32', 'fastfood a1'), u = ctx.scratch([n, blocks, d], 'f32', 'fastfood a2');
  const a5 = saved?.a5 ?? ctx.scratch([n, blocks, d], 'f32', 'fastfood a5');
  const v = multipassVec4(ctx, d, inFeatures, outFeatures);
  return [
    { kernel: ffPreKernel(v.inF), buffers: [x, p.B, t], params: dims, workgroups: wg(total, v.inF) },
    ...encodeFwhtRows(ctx, t, u, n * blocks, d, 1),
    { kernel: ffMidKernel(!!saved, v.d), buffers: [u, p.G, p.perm, t, ...(saved ? [saved.a3] : [])], params: dims, workgroups: wg(total, v.d) },
    ...encodeFwhtRows(ctx, t, a5, n * blocks, d, 1),
    { kernel: ffPostKernel(v.outF), buffers: [a5, p.S, y], params: { ...dims, total: n * outFeatures }, workgroups: wg(n * outFeatures, v.outF) },
  ];
}

/** Gradients from the saved a3, a5 of the training forward; dB, dG, dS are summed over the batch. */
export function encodeFastfoodBackward(
  ctx: EncodeContext, x: TensorRef, p: FastfoodDeviceParams, dy: TensorRef, saved: FastfoodSaved, out: FastfoodBackwardOut,
): Dispatch[] {
  const { n, inFeatures, d, blocks, outFeatures } = fastfoodShape(x, p);
  expectShape('dy', dy, [n, outFeatures]);
  for (const k of ['a3', 'a5'] as const) expectShape(k, saved[k], [n, blocks, d]);
  if (out.dx) expectShape('dx', out.dx, [n, inFeatures]);
  for (const k of ['dB', 'dG', 'dS'] as const) expectShape(k, out[k], [blocks, d]);
  const M = blocks * d;
  if (fused(ctx, d, true)) {
    const { rpw, workgroups, slots } = launch(ctx, n, d);
    const part = ctx.scratch([3, slots, M], 'f32', 'fastfood partials');
    const storage = ctx.limits.maxComputeWorkgroupStorageSize;
    return [
      {
        kernel: fastfoodBackwardKernel(d, !!out.dx, storage, rowTuning(ctx, d)),
        buffers: [x, p.B, p.G, p.S, p.perm, dy, saved.a3, saved.a5, part, ...(out.dx ? [out.dx] : [])],
        params: { rows: n, rpw, inF: inFeatures, outF: outFeatures, blocks, nwg: workgroups }, workgroups,
      },
      { kernel: fastfoodReduceKernel(), buffers: [part, out.dB, out.dG, out.dS], params: { M, parts: slots }, workgroups: fastfoodReduceWorkgroups(M) },
    ];
  }
  const total = n * M, dims = { total, d, blocks, inF: inFeatures, outF: outFeatures };
  const u = ctx.scratch([n, blocks, d], 'f32', 'fastfood g'), g4 = ctx.scratch([n, blocks, d], 'f32', 'fastfood g4');
  const v = multipassVec4(ctx, d, inFeatures, outFeatures);
  /** out = Σ over rows of a⊙b (ffColumnDotKernel), each operand given as [row stride, columns, modulus]. */
  const coldot = (a: TensorRef, b: TensorRef, o: TensorRef, [aRow, aCols, aMod]: number[], [bRow, bCols, bMod]: number[]): Dispatch => {
    const v4 = v.d && [aRow, aCols, aMod, bRow, bCols, bMod].every((e) => e! % 4 === 0);
    return { kernel: ffColumnDotKernel(v4), buffers: [a, b, o], params: { total: M, rows: n, aRow: aRow!, aCols: aCols!, aMod: aMod!, bRow: bRow!, bCols: bCols!, bMod: bMod! }, workgroups: wg(M, v4) };
  };
  return [
    { kernel: ffBwdPreKernel(v.outF), buffers: [dy, p.S, u], params: dims, workgroups: wg(total, v.outF) },
    ...encodeFwhtRows(ctx, u, g4, n * blocks, d, 1),
    coldot(dy, saved.a5, out.dS, [outFeatures, outFeatures, M], [M, M, M]),
    coldot(g4, saved.a3, out.dG, [M, M, M], [M, M, M]),
    { kernel: ffBwdMidKernel(v.d), buffers: [g4, p.G, p.perm, u], params: dims, workgroups: wg(total, v.d) },
    ...encodeFwhtRows(ctx, u, g4, n * blocks, d, 1),
    coldot(g4, x, out.dB, [M, M, M], [inFeatures, inFeatures, d]),
    ...(out.dx ? [{ kernel: ffBwdDxKernel(v.inF), buffers: [g4, p.B, out.dx], params: { ...dims, total: n * inFeatures }, workgroups: wg(n * inFeatures, v.inF) }] : []),
  ];
}

/** perm on the GPU: the caller's tensor, or a per-call upload of a Uint32Array (disposed by `done`:
 * its buffer is pooled again once the queued work that reads it is submitted). */
function devicePerm(rt: GpuRuntime, p: FastfoodParams): { dp: FastfoodDeviceParams; done: () => void } {
  if (!(p.perm instanceof Uint32Array)) return { dp: p as FastfoodDeviceParams, done: () => {} };
  const t = rt.tensor(p.perm, p.B.shape);
  return { dp: { ...p, perm: t }, done: () => t.dispose() };
}

export function fastfood(rt: GpuRuntime, x: Tensor, p: FastfoodParams): Tensor {
  operand(OP, 'x', x); // fastfoodShape also takes a plain shape; the op takes a tensor
  const { n, outFeatures } = fastfoodShape(x, p, true);
  const { dp, done } = devicePerm(rt, p);
  try {
    return rt.op('fastfood', () => rt.empty([n, outFeatures], 'f32', 'fastfood y'), (y, ctx) => encodeFastfood(ctx, x, dp, y));
  } finally {
    done();
  }
}

export function fastfoodBackward(rt: GpuRuntime, x: Tensor, p: FastfoodParams, dy: Tensor): FastfoodGrads {
  operand('fastfoodBackward', 'x', x);
  const { n, inFeatures, d, blocks, outFeatures } = fastfoodShape(x, p, true);
  expectShape('dy', dy, [n, outFeatures]);
  dtype(OP, 'dy', dy, 'f32');
  const { dp, done } = devicePerm(rt, p);
  try {
    return rt.op('fastfoodBackward', () => ({
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
