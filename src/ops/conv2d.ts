// conv2d (NCHW, weights [Cout, Cin, kh, kw]) forward and backward: shape checks and dispatches.
import { channelTile, convTileKernel, convTileLaunch, type ConvTileGeometry } from '../../kernels/conv2d.wgsl.js';
import { convGradFilterKernel, CONV_DW_WG, sumSplitsKernel, SUM_SPLITS_WG } from '../../kernels/conv2d_grad_filter.wgsl.js';
import { convGradInputPhases, type ConvProblem } from '../../kernels/conv2d_grad_input.wgsl.js';
import type { KernelInstance } from '../../kernels/common.js';
import { col2imKernel, im2colKernel, IM2COL_WG, swapLeadingKernel } from '../../kernels/im2col.wgsl.js';
import { matmulVariant } from '../../kernels/matmul.wgsl.js';
import { matmulMaxTile } from './adapter.js';
import type { Dispatch, EncodeContext, GpuRuntime, Tensor, TensorRef } from '../gpu/runtime.js';
import { encodeMatmul } from './linear.js';
import { encodeChannelSum } from './reduce.js';
import { pair, type Conv2dOptions, type ConvGrads } from './types.js';
import { dtype, fail, operand, rank } from './validate.js';

function dims(op: string, name: string, s: readonly number[], r: number, layout: string): void {
  if (!Array.isArray(s) || s.length !== r) fail(op, `${name} must have rank ${r} (${layout}), got shape [${s}]`);
  if (!s.every((d) => Number.isInteger(d) && d > 0)) fail(op, `${name} shape [${s}] has a dimension that is not a positive integer`);
}

function problem(op: string, xShape: readonly number[], wShape: readonly number[], opts: Conv2dOptions = {}): ConvProblem {
  dims(op, 'x', xShape, 4, 'N, Cin, H, W');
  dims(op, 'w', wShape, 4, 'Cout, Cin, kh, kw');
  const [N, Cin, H, W] = xShape as [number, number, number, number];
  const [Cout, wCin, kh, kw] = wShape as [number, number, number, number];
  if (wCin !== Cin) fail(op, `channel mismatch: x has ${Cin} input channels but w [${wShape}] expects ${wCin}`);
  const [sh, sw] = pair(opts.stride, 1, `${op} stride`);
  const [ph, pw] = pair(opts.padding, 0, `${op} padding`);
  if (sh < 1 || sw < 1) fail(op, `stride must be at least 1, got [${sh}, ${sw}]`);
  if (ph < 0 || pw < 0) fail(op, `padding must not be negative, got [${ph}, ${pw}]`);
  if (kh > H + 2 * ph || kw > W + 2 * pw) {
    fail(op, `kernel ${kh}x${kw} is larger than the padded input ${H + 2 * ph}x${W + 2 * pw}`);
  }
  const Ho = Math.floor((H + 2 * ph - kh) / sh) + 1, Wo = Math.floor((W + 2 * pw - kw) / sw) + 1;
  return { N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, Ho, Wo };
}

/** Validates a conv2d and returns the output shape [N, Cout, Ho, Wo]. */
export function conv2dShape(xShape: readonly number[], wShape: readonly number[], bShape: readonly number[] | null, opts?: Conv2dOptions): number[] {
  const p = problem('conv2d', xShape, wShape, opts);
  if (bShape !== null) {
    if (bShape.length !== 1 || bShape[0] !== p.Cout) fail('conv2d', `bias must have shape [${p.Cout}] (one per output channel), got [${bShape}]`);
  }
  return [p.N, p.Cout, p.Ho, p.Wo];
}

function checkTensors(op: string, named: [string, TensorRef][]): void {
  for (const [name, t] of named) {
    operand(op, name, t);
    dtype(op, name, t, 'f32');
  }
}

function checkOut(op: string, name: string, t: TensorRef, shape: readonly number[]): void {
  rank(op, name, t, shape.length);
  if (t.shape.some((d, i) => d !== shape[i])) fail(op, `${name} must have shape [${shape}], got [${t.shape}]`);
}

function checkGrid(op: string, ctx: EncodeContext, workgroups: number, what: string): void {
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  if (workgroups > max * max) fail(op, `${what} needs ${workgroups} workgroups, over this device's dispatch limit (${max}²)`);
}

/** Pixel rows, pixel columns and output channels per invocation. Bigger tiles load less per FMA;
 * measured on SwiftShader at batch 64 (GFLOP/s, one run each, beside a training job), against
 * the 4×4 pixels × 2–4 channels used before:
 *   3×3 64→64 on 32×32: 4×4×2 2.3, 4×8×4 3.7, 8×8×4 4.0, 4×16×8 4.8
 *   MNIST conv2 (5×5, 20→50 on 8×8): 4×4×2 2.6, 4×8×2 4.0, 8×8×2 4.7, 8×8×5 5.1
 *   MNIST conv1 (5×5, 1→20 on 24×24): 4×4×4 1.3, 4×8×4 1.6, 8×8×4 1.7
 * 4×8 pixels × up to 4 channels takes most of that at half the compile time of 8×8 (a 5×5
 * kernel's unrolled 8×8×4 tile is 7,600 lines of WGSL and compiles for seconds on SwiftShader). */
const outputTile = (GH: number, GW: number, O: number): [number, number, number] =>
  [Math.min(4, GH), Math.min(8, GW), channelTile(O, 4)];

function tileDispatch(op: string, ctx: EncodeContext, kernel: KernelInstance, tile: readonly [number, number, number], g: ConvTileGeometry, buffers: TensorRef[]): Dispatch {
  const { params, workgroups } = convTileLaunch(tile, g);
  checkGrid(op, ctx, workgroups, kernel.name);
  return { kernel, buffers, params, workgroups };
}

/** y [N, Cout, Ho, Wo] = conv2d(x [N, Cin, H, W], w [Cout, Cin, kh, kw]) + b [Cout] (b may be null),
 * with opts.relu applied. */
export function encodeConv2d(ctx: EncodeContext, x: TensorRef, w: TensorRef, b: TensorRef | null, y: TensorRef, opts: Conv2dOptions = {}): Dispatch[] {
  checkTensors('conv2d', [['x', x], ['w', w], ...(b ? [['b', b] as [string, TensorRef]] : []), ['y', y]]);
  const outShape = conv2dShape(x.shape, w.shape, b ? b.shape : null, opts);
  checkOut('conv2d', 'y', y, outShape);
  const p = problem('conv2d', x.shape, w.shape, opts);
  const tile = outputTile(p.Ho, p.Wo, p.Cout);
  const relu = Boolean(opts.relu);
  const kernel = convTileKernel({
    name: `conv2d_k${p.kh}x${p.kw}_s${p.sh}x${p.sw}_t${tile.join('x')}${b ? '_bias' : ''}${relu ? '_relu' : ''}`,
    taps: [p.kh, p.kw], inStride: [p.sh, p.sw], tile, tapStride: [p.kw, 1], bias: b !== null, relu,
  });
  const g: ConvTileGeometry = {
    N: p.N, I: p.Cin, IH: p.H, IW: p.W, O: p.Cout, OH: p.Ho, OW: p.Wo, GH: p.Ho, GW: p.Wo,
    OSy: 1, OSx: 1, OOy: 0, OOx: 0, IOy: -p.ph, IOx: -p.pw, Ao: p.Cin * p.kh * p.kw, Bi: p.kh * p.kw, Wb: 0,
  };
  return [tileDispatch('conv2d', ctx, kernel, tile, g, b ? [x, w, b, y] : [x, w, y])];
}

/** dw tile (TCo, TCi, KY, PW) and the number of slices of the N·Ho rows. */
function filterPlan(p: ConvProblem): { tile: [number, number, number, number]; splits: number; rowsPerSplit: number; base: number } {
  const TCo = channelTile(p.Cout, 4), TCi = channelTile(p.Cin, 4);
  const KY = TCo * TCi * p.kh * p.kw <= 128 ? p.kh : 1;
  const PW = Math.min(4, p.Wo);
  const base = Math.ceil(p.kh / KY) * Math.ceil(p.Cin / TCi) * Math.ceil(p.Cout / TCo);
  const rows = p.N * p.Ho;
  let splits = Math.max(1, Math.min(Math.ceil(2048 / base), Math.floor(rows / 4)));
  const rowsPerSplit = Math.ceil(rows / splits);
  splits = Math.ceil(rows / rowsPerSplit);
  return { tile: [TCo, TCi, KY, PW], splits, rowsPerSplit, base };
}

/** Bytes of one [Cin·kh·kw, N·Ho·Wo] column matrix. */
const colBytes = (p: ConvProblem) => 4 * p.Cin * p.kh * p.kw * p.N * p.Ho * p.Wo;

/** The GEMM path needs two column-sized scratch matrices; 'auto' takes it while they stay small
 * beside the device's binding limit and the products are big enough to fill the matmul tiles
 * (MNIST conv2 at batch 64 on SwiftShader, one run beside a training job: dx + dw 337 ms direct,
 * 225 ms through im2col + matmul; conv1, with 25 taps of one channel, would give the matmul a
 * 20×25 output and no parallelism, so it stays direct). */
function useGemm(ctx: EncodeContext, p: ConvProblem): boolean {
  const fits = colBytes(p) <= ctx.limits.maxStorageBufferBindingSize;
  const path = ctx.tuning.conv.backward;
  if (path !== 'auto') return path === 'gemm' && fits;
  return fits && colBytes(p) <= 64 << 20 && p.Cout >= 8 && p.Cin * p.kh * p.kw >= 64;
}

/** dw = dyT·colᵀ, db = Σ dy, dx = col2im(wᵀ·dyT) (kernels/im2col.wgsl.ts). */
function encodeBackwardGemm(ctx: EncodeContext, p: ConvProblem, x: TensorRef, w: TensorRef, dy: TensorRef, out: { dx?: TensorRef; dw: TensorRef; db: TensorRef }): Dispatch[] {
  const J = p.Cin * p.kh * p.kw, Q = p.N * p.Ho * p.Wo, P = p.Ho * p.Wo;
  const geometry = { N: p.N, Cin: p.Cin, H: p.H, W: p.W, Ho: p.Ho, Wo: p.Wo, ph: p.ph, pw: p.pw };
  const taps = { kh: p.kh, kw: p.kw, sh: p.sh, sw: p.sw };
  const quad = ctx.hasSubgroups;
  const dyT = ctx.scratch([p.Cout, Q], 'f32', 'conv2d dyT');
  const col = ctx.scratch([J, Q], 'f32', 'conv2d im2col');
  const ds: Dispatch[] = [
    { kernel: swapLeadingKernel(), buffers: [dy, dyT], params: { A: p.N, B: p.Cout, C: P }, workgroups: Math.ceil(dy.size / IM2COL_WG) },
    { kernel: im2colKernel(taps), buffers: [x, col], params: geometry, workgroups: Math.ceil(Q / IM2COL_WG) },
    encodeMatmul(matmulVariant('nt', p.Cout, J, Q, { quad }, matmulMaxTile(ctx, p.Cout, J, Q)), dyT, col, null, out.dw, p.Cout, J, Q),
    ...encodeChannelSum(ctx, dy, out.db, p.N, p.Cout, P),
  ];
  if (out.dx) {
    const cg = ctx.scratch([J, Q], 'f32', 'conv2d column gradient');
    ds.push(encodeMatmul(matmulVariant('tn', J, Q, p.Cout, { quad }, matmulMaxTile(ctx, J, Q, p.Cout)), w, dyT, null, cg, J, Q, p.Cout));
    ds.push({ kernel: col2imKernel(taps), buffers: [cg, out.dx], params: geometry, workgroups: Math.ceil(p.N * p.H * p.W / IM2COL_WG) });
  }
  for (const d of ds) checkGrid('conv2dBackward', ctx, d.workgroups, d.kernel.name);
  return ds;
}

/** dw and db (summed over the batch) and, when out.dx is given, dx, from dy [N, Cout, Ho, Wo]:
 * the direct kernels or im2col + matmul, as Tuning.conv.backward chooses. */
export function encodeConv2dBackward(ctx: EncodeContext, x: TensorRef, w: TensorRef, dy: TensorRef, out: { dx?: TensorRef; dw: TensorRef; db: TensorRef }, opts: Conv2dOptions = {}): Dispatch[] {
  const op = 'conv2dBackward';
  checkTensors(op, [['x', x], ['w', w], ['dy', dy], ['dw', out.dw], ['db', out.db], ...(out.dx ? [['dx', out.dx] as [string, TensorRef]] : [])]);
  const p = problem(op, x.shape, w.shape, opts);
  checkOut(op, 'dy', dy, [p.N, p.Cout, p.Ho, p.Wo]);
  checkOut(op, 'dw', out.dw, w.shape);
  checkOut(op, 'db', out.db, [p.Cout]);
  if (out.dx) checkOut(op, 'dx', out.dx, x.shape);
  if (useGemm(ctx, p)) return encodeBackwardGemm(ctx, p, x, w, dy, out);
  const ds: Dispatch[] = [];
  if (out.dx) {
    for (const ph of convGradInputPhases(p, (GH, GW) => outputTile(GH, GW, p.Cin))) {
      const tile = outputTile(ph.geometry.GH, ph.geometry.GW, p.Cin);
      ds.push(tileDispatch(op, ctx, ph.kernel, tile, ph.geometry, [dy, w, out.dx]));
    }
  }
  const plan = filterPlan(p);
  const total = plan.base * plan.splits;
  const workgroups = Math.ceil(total / CONV_DW_WG);
  const kernel = convGradFilterKernel({ kh: p.kh, kw: p.kw, sh: p.sh, sw: p.sw, tile: plan.tile });
  checkGrid(op, ctx, workgroups, kernel.name);
  const [TCo, TCi, KY] = plan.tile;
  const params = {
    N: p.N, Cin: p.Cin, H: p.H, W: p.W, Cout: p.Cout, Ho: p.Ho, Wo: p.Wo, ph: p.ph, pw: p.pw, kyBlocks: Math.ceil(p.kh / KY),
    ciBlocks: Math.ceil(p.Cin / TCi), coBlocks: Math.ceil(p.Cout / TCo), total, rowsPerSplit: plan.rowsPerSplit, rows: p.N * p.Ho,
  };
  if (plan.splits === 1) {
    ds.push({ kernel, buffers: [x, dy, out.dw, out.db], params, workgroups });
  } else {
    const dwPart = ctx.scratch([plan.splits, out.dw.size], 'f32', 'conv2d dw partials');
    const dbPart = ctx.scratch([plan.splits, p.Cout], 'f32', 'conv2d db partials');
    ds.push({ kernel, buffers: [x, dy, dwPart, dbPart], params, workgroups });
    const sum = sumSplitsKernel();
    ds.push({ kernel: sum, buffers: [dwPart, out.dw], params: { n: out.dw.size, splits: plan.splits }, workgroups: Math.ceil(out.dw.size / SUM_SPLITS_WG) });
    ds.push({ kernel: sum, buffers: [dbPart, out.db], params: { n: p.Cout, splits: plan.splits }, workgroups: Math.ceil(p.Cout / SUM_SPLITS_WG) });
  }
  return ds;
}

export function conv2d(rt: GpuRuntime, x: Tensor, w: Tensor, b: Tensor | null, opts?: Conv2dOptions): Tensor {
  if (b !== null && (typeof b !== 'object' || !('shape' in b))) throw new Error(`deepfried: conv2d: b must be a tensor [Cout] or null (no bias), got ${b === undefined ? 'undefined' : typeof b}`);
  if (opts !== undefined && (opts === null || typeof opts !== 'object')) throw new Error(`deepfried: conv2d: opts must be an object ({ stride, padding, relu }) or left out, got ${opts === null ? 'null' : typeof opts}`);
  checkTensors('conv2d', [['x', x], ['w', w], ...(b ? [['b', b] as [string, TensorRef]] : [])]);
  const shape = conv2dShape(x.shape, w.shape, b ? b.shape : null, opts);
  return rt.op('conv2d', () => rt.empty(shape, 'f32', 'conv2d y'), (y, ctx) => encodeConv2d(ctx, x, w, b, y, opts));
}

export function conv2dBackward(rt: GpuRuntime, x: Tensor, w: Tensor, dy: Tensor, opts?: Conv2dOptions): ConvGrads {
  if (opts !== undefined && (opts === null || typeof opts !== 'object')) throw new Error(`deepfried: conv2dBackward: opts must be an object ({ stride, padding }) or left out, got ${opts === null ? 'null' : typeof opts}`);
  checkTensors('conv2dBackward', [['x', x], ['w', w], ['dy', dy]]);
  const p = problem('conv2dBackward', x.shape, w.shape, opts);
  checkOut('conv2dBackward', 'dy', dy, [p.N, p.Cout, p.Ho, p.Wo]);
  return rt.op('conv2dBackward',
    () => ({ dx: rt.empty(x.shape, 'f32', 'conv2d dx'), dw: rt.empty(w.shape, 'f32', 'conv2d dw'), db: rt.empty([p.Cout], 'f32', 'conv2d db') }),
    (out, ctx) => encodeConv2dBackward(ctx, x, w, dy, out, opts));
}
