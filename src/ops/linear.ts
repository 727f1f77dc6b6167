// linear: y = x·wᵀ + b (optionally ReLU), x [N, in], w [out, in], b [out]; backward
// dx = dy·w, dw = dyᵀ·x, db = Σ_batch dy. All three products use the one tiled matmul kernel.
// A weight larger than one binding (maxStorageBufferBindingSize: 128 MiB on a device requested
// with default limits, as tfjs's and most applications' are; the paper's ImageNet FC6 as a dense
// layer, 9216 → 4096, is 151 MB) is worked through in blocks of rows, each bound as a Slice.
import { matmulKernel, matmulVariant, matmulWorkgroups, type MatmulStrides, type MatmulVariant } from '../../kernels/matmul.wgsl.js';
import { matmulMaxTile } from './adapter.js';
import { bindingBlocks, sliceRows, type Dispatch, type EncodeContext, type GpuRuntime, type Slice, type Tensor, type TensorRef } from '../gpu/runtime.js';
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

/** y [N, out] = x [N, in]·wᵀ + b [out] (b may be null), w [out, in], with opts.relu applied. */
export function encodeLinear(ctx: EncodeContext, x: TensorRef, w: TensorRef, b: TensorRef | null, y: TensorRef, opts: LinearOptions = {}): Dispatch[] {
  live('linear', { x, w, b, y });
  const out = linearShape(x.shape, w.shape, b ? b.shape : null);
  shapeIs('linear', 'y', y, out);
  const [n, k] = x.shape as [number, number];
  const fout = out[1]!;
  return bindingBlocks('linear', 'w', ctx.limits, fout, k).map(({ first, count }) => {
    const s = { ldc: fout, cOff: first };
    const v = matmulVariant('nt', n, count, k, { bias: Boolean(b), relu: Boolean(opts.relu), quad: ctx.hasSubgroups }, matmulMaxTile(ctx, n, count, k), s);
    return encodeMatmul(v, x, sliceRows(w, first, count, k), b ? sliceRows(b, first, count, 1) : null, y, n, count, k, s);
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
  const blocks = bindingBlocks(op, 'w', ctx.limits, fout, fin);
  const ds: Dispatch[] = [];
  if (out.dx) {
    shapeIs(op, 'dx', out.dx, x.shape);
    // dx = Σ over row blocks of dy[:, block]·w[block], accumulated into dx after the first
    for (const [i, { first, count }] of blocks.entries()) {
      const s = { lda: fout, aOff: first };
      const v = matmulVariant('nn', n, fin, count, { quad: ctx.hasSubgroups, accumulate: i > 0 }, matmulMaxTile(ctx, n, fin, count), s);
      ds.push(encodeMatmul(v, dy, sliceRows(w, first, count, fin), null, out.dx, n, fin, count, s));
    }
  }
  for (const { first, count } of blocks) { // dw[block] = dy[:, block]ᵀ·x
    const s = { lda: fout, aOff: first };
    const v = matmulVariant('tn', count, fin, n, { quad: ctx.hasSubgroups }, matmulMaxTile(ctx, count, fin, n), s);
    ds.push(encodeMatmul(v, dy, x, null, sliceRows(out.dw, first, count, fin), count, fin, n, s));
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
