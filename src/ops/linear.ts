// linear: y = x·wᵀ + b (optionally ReLU), x [N, in], w [out, in], b [out]; backward
// dx = dy·w, dw = dyᵀ·x, db = Σ_batch dy. All three products use the one tiled matmul kernel.
import { matmulKernel, matmulVariant, matmulWorkgroups, type MatmulVariant } from '../../kernels/matmul.wgsl.js';
import { matmulMaxTile } from './adapter.js';
import type { Dispatch, EncodeContext, GpuRuntime, Tensor, TensorRef } from '../gpu/runtime.js';
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

/** C[M, N] = A·B in one of the matmul kernel's layouts. */
export function encodeMatmul(v: MatmulVariant, a: TensorRef, b: TensorRef, bias: TensorRef | null, c: TensorRef, m: number, n: number, k: number): Dispatch {
  const { tilesN, tiles, workgroups } = matmulWorkgroups(v, m, n);
  return { kernel: matmulKernel(v), buffers: bias ? [a, b, bias, c] : [a, b, c], params: { M: m, N: n, K: k, tilesN, tiles }, workgroups };
}

/** y [N, out] = x [N, in]·wᵀ + b [out] (b may be null), w [out, in], with opts.relu applied. */
export function encodeLinear(ctx: EncodeContext, x: TensorRef, w: TensorRef, b: TensorRef | null, y: TensorRef, opts: LinearOptions = {}): Dispatch[] {
  live('linear', { x, w, b, y });
  const out = linearShape(x.shape, w.shape, b ? b.shape : null);
  shapeIs('linear', 'y', y, out);
  const [n, k] = x.shape as [number, number];
  return [encodeMatmul(matmulVariant('nt', n, out[1]!, k, { bias: Boolean(b), relu: Boolean(opts.relu), quad: ctx.hasSubgroups }, matmulMaxTile(ctx, n, out[1]!, k)), x, w, b, y, n, out[1]!, k)];
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
  const ds: Dispatch[] = [];
  if (out.dx) {
    shapeIs(op, 'dx', out.dx, x.shape);
    ds.push(encodeMatmul(matmulVariant('nn', n, fin, fout, { quad: ctx.hasSubgroups }, matmulMaxTile(ctx, n, fin, fout)), dy, w, null, out.dx, n, fin, fout));
  }
  ds.push(encodeMatmul(matmulVariant('tn', fout, fin, n, { quad: ctx.hasSubgroups }, matmulMaxTile(ctx, fout, fin, n)), dy, x, null, out.dw, fout, fin, n));
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
