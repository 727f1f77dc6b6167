// linear: y = x·wᵀ + b (optionally ReLU), x [N, in], w [out, in], b [out]; backward
// dx = dy·w, dw = dyᵀ·x, db = Σ_batch dy. All three products use the one tiled matmul kernel.
// A weight larger than one binding (maxStorageBufferBindingSize: 128 MiB on a device requested
// with default limits, as tfjs's and most applications' are; the paper's ImageNet FC6 as a dense
// layer, 9216 → 4096, is 151 MB) is worked through in blocks of rows, each bound as a Slice.
import { matmulKernel, matmulVariant, matmulWorkgroups, type MatmulStrides, type MatmulVariant } from '../../kernels/matmul.wgsl.js';
import { matmulMaxTile } from './adapter.js';
import { Slice, type Dispatch, type EncodeContext, type GpuRuntime, type Tensor, type TensorRef } from '../gpu/runtime.js';
import { encodeColumnSum } from './reduce.js';
import type { LinearGrads } from './types.js';
import { fail, live, rank, shapeIs } from './validate.js';

export { encodeColumnSum } from './reduce.js';

/** Options of linear. */
export interface LinearOptions {
  /** Apply ReLU to the output, fused into the matmul (forward only; default false). */
  relu?: boolean;
}

/** [N, out]; checks that x is [N, in], w is [out, in] and b (if any) is [out]. */
export function linearShape(xShape: readonly number[], wShape: readonly number[], bShape: readonly number[] | null, op = 'linear'): number[] {
  if (xShape.length !== 2) fail(op, `x must have rank 2 ([N, in]), got shape [${xShape}]`);
  if (wShape.length !== 2) fail(op, `w must have rank 2 ([out, in]), got shape [${wShape}]`);
  if (xShape[1] !== wShape[1]) fail(op, `x has ${xShape[1]} features but w [${wShape}] expects ${wShape[1]}`);
  if (bShape && (bShape.length !== 1 || bShape[0] !== wShape[0])) fail(op, `b must have shape [${wShape[0]}], got [${bShape}]`);
  return [xShape[0]!, wShape[0]!];
}

type Operand = TensorRef | Slice;

/** C[M, N] = A·B in one of the matmul kernel's layouts; `s` places A and C inside larger matrices. */
export function encodeMatmul(v: MatmulVariant, a: Operand, b: Operand, bias: Operand | null, c: Operand, m: number, n: number, k: number, s: Partial<MatmulStrides> = {}): Dispatch {
  const { tilesN, tiles, workgroups } = matmulWorkgroups(v, m, n);
  const params = { M: m, N: n, K: k, tilesN, tiles, lda: s.lda ?? (v.layout === 'tn' ? m : k), aOff: s.aOff ?? 0, ldc: s.ldc ?? n, cOff: s.cOff ?? 0 };
  return { kernel: matmulKernel(v), buffers: bias ? [a, b, bias, c] : [a, b, c], params, workgroups };
}

/** The blocks of rows [o0, o0 + rows) of a weight [out, in] that one binding holds each: one block
 * when the weight fits; otherwise blocks whose byte offsets (and the bias's) are multiples of the
 * device's minStorageBufferOffsetAlignment and whose first row is a multiple of 4 (vec4 column
 * blocks of y and dy). */
export function weightBlocks(op: string, limits: GPUSupportedLimits, out: number, fin: number): { o0: number; rows: number }[] {
  const max = limits.maxStorageBufferBindingSize, align = limits.minStorageBufferOffsetAlignment;
  if (out * fin * 4 <= max) return [{ o0: 0, rows: out }];
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  const lcm = (a: number, b: number) => (a / gcd(a, b)) * b;
  const step = lcm(lcm(align / gcd(4 * fin, align), align / 4), 4);
  const rows = Math.floor(max / (4 * fin) / step) * step;
  if (rows < 1) fail(op, `w [${out}, ${fin}] is ${out * fin * 4} bytes, over this device's limit (maxStorageBufferBindingSize ${max}), and a block of ${step} rows (${step * fin * 4} bytes) does not fit one binding either`);
  const blocks: { o0: number; rows: number }[] = [];
  for (let o0 = 0; o0 < out; o0 += rows) blocks.push({ o0, rows: Math.min(rows, out - o0) });
  return blocks;
}

/** Rows [o0, o0 + rows) of a row-major [·, fin] matrix (the whole tensor when that is all of it). */
const rowsOf = (t: TensorRef, o0: number, rows: number, fin: number, whole: boolean): Operand => (whole ? t : new Slice(t, 4 * o0 * fin, 4 * rows * fin));

/** y [N, out] = x [N, in]·wᵀ + b [out] (b may be null), w [out, in], with opts.relu applied. */
export function encodeLinear(ctx: EncodeContext, x: TensorRef, w: TensorRef, b: TensorRef | null, y: TensorRef, opts: LinearOptions = {}): Dispatch[] {
  live('linear', { x, w, b, y });
  const out = linearShape(x.shape, w.shape, b ? b.shape : null);
  shapeIs('linear', 'y', y, out);
  const [n, k] = x.shape as [number, number];
  const fout = out[1]!, blocks = weightBlocks('linear', ctx.limits, fout, k), whole = blocks.length === 1;
  return blocks.map(({ o0, rows }) => {
    const s = { ldc: fout, cOff: o0 };
    const v = matmulVariant('nt', n, rows, k, { bias: Boolean(b), relu: Boolean(opts.relu), quad: ctx.hasSubgroups }, matmulMaxTile(ctx, n, rows, k), s);
    return encodeMatmul(v, x, rowsOf(w, o0, rows, k, whole), b ? rowsOf(b, o0, rows, 1, whole) : null, y, n, rows, k, s);
  });
}

/** dx = dy·w (when out.dx is given), dw = dyᵀ·x, db = Σ_batch dy (when out.db is given). */
export function encodeLinearBackward(ctx: EncodeContext, x: TensorRef, w: TensorRef, dy: TensorRef, out: { dx?: TensorRef; dw: TensorRef; db?: TensorRef }): Dispatch[] {
  const op = 'linearBackward';
  live(op, { x, w, dy, dx: out.dx, dw: out.dw, db: out.db });
  const yShape = linearShape(x.shape, w.shape, null, op);
  shapeIs(op, 'dy', dy, yShape);
  shapeIs(op, 'dw', out.dw, w.shape);
  const [n, fin] = x.shape as [number, number];
  const fout = w.shape[0]!;
  const blocks = weightBlocks(op, ctx.limits, fout, fin), whole = blocks.length === 1;
  const ds: Dispatch[] = [];
  if (out.dx) {
    shapeIs(op, 'dx', out.dx, x.shape);
    // dx = Σ over row blocks of dy[:, block]·w[block], accumulated into dx after the first
    for (const [i, { o0, rows }] of blocks.entries()) {
      const s = { lda: fout, aOff: o0 };
      const v = matmulVariant('nn', n, fin, rows, { quad: ctx.hasSubgroups, accumulate: i > 0 }, matmulMaxTile(ctx, n, fin, rows), s);
      ds.push(encodeMatmul(v, dy, rowsOf(w, o0, rows, fin, whole), null, out.dx, n, fin, rows, s));
    }
  }
  for (const { o0, rows } of blocks) { // dw[block] = dy[:, block]ᵀ·x
    const s = { lda: fout, aOff: o0 };
    const v = matmulVariant('tn', rows, fin, n, { quad: ctx.hasSubgroups }, matmulMaxTile(ctx, rows, fin, n), s);
    ds.push(encodeMatmul(v, dy, x, null, rowsOf(out.dw, o0, rows, fin, whole), rows, fin, n, s));
  }
  if (out.db) {
    shapeIs(op, 'db', out.db, [fout]);
    ds.push(...encodeColumnSum(ctx, dy, out.db));
  }
  return ds;
}

function check(op: string, x: Tensor, w: Tensor, b: Tensor | null): number[] {
  rank(op, 'x', x, 2, '[N, in]');
  rank(op, 'w', w, 2, '[out, in]');
  if (b) rank(op, 'b', b, 1, '[out]');
  live(op, { x, w, b });
  return linearShape(x.shape, w.shape, b ? b.shape : null, op);
}

export function linear(rt: GpuRuntime, x: Tensor, w: Tensor, b: Tensor | null, opts: LinearOptions = {}): Tensor {
  const out = check('linear', x, w, b);
  return rt.op('linear', () => rt.empty(out, 'f32', 'linear y'), (y, ctx) => encodeLinear(ctx, x, w, b, y, opts));
}

export function linearBackward(rt: GpuRuntime, x: Tensor, w: Tensor, dy: Tensor): LinearGrads {
  const out = check('linearBackward', x, w, null);
  rank('linearBackward', 'dy', dy, 2, '[N, out]');
  shapeIs('linearBackward', 'dy', dy, out);
  return rt.op('linearBackward', () => ({
    dx: rt.empty(x.shape, 'f32', 'linear dx'), dw: rt.empty(w.shape, 'f32', 'linear dw'), db: rt.empty([w.shape[0]!], 'f32', 'linear db'),
  }), (g, ctx) => encodeLinearBackward(ctx, x, w, dy, g));
}
