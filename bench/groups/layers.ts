// conv, pool and linear at the MNIST nets' shapes, side by side with tfjs-backend-webgpu on the same
// adapter. Ours are NCHW / [out, in]; tfjs gets the same values laid out NHWC / [in, out] (layout
// changes are made before timing; only the op is timed).
import type * as TF from '@tensorflow/tfjs-core';
import { fmtShape, ours, randArray, withPeer, type Ctx } from '../lib/context.js';
import type { Row } from '../lib/types.js';

export interface ConvShape { name: string; n: number; cin: number; h: number; w: number; cout: number; k: number; pad: number }

export function convShapes(quick: boolean): ConvShape[] {
  const n = quick ? 2 : 64;
  const all: ConvShape[] = [
    { name: 'mnist conv1', n, cin: 1, h: 28, w: 28, cout: 20, k: 5, pad: 0 },
    { name: 'mnist conv2', n, cin: 20, h: 12, w: 12, cout: 50, k: 5, pad: 0 },
    { name: '3×3 64→64', n, cin: 64, h: 32, w: 32, cout: 64, k: 3, pad: 1 },
  ];
  return quick ? all.slice(0, 1) : all;
}

/** [a, b, c, d] row-major → the axes in `order`. */
function transpose4(src: Float32Array, dims: readonly [number, number, number, number], order: readonly [number, number, number, number]): Float32Array {
  const out = new Float32Array(src.length);
  const od = order.map((o) => dims[o]!) as [number, number, number, number];
  const stride = [dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1];
  let k = 0;
  const idx = [0, 0, 0, 0];
  for (idx[0] = 0; idx[0] < od[0]; idx[0]++) for (idx[1] = 0; idx[1] < od[1]; idx[1]++)
    for (idx[2] = 0; idx[2] < od[2]; idx[2]++) for (idx[3] = 0; idx[3] < od[3]; idx[3]++) {
      let s = 0;
      for (let a = 0; a < 4; a++) s += idx[a]! * stride[order[a]!]!;
      out[k++] = src[s]!;
    }
  return out;
}

const NCHW_TO_NHWC = [0, 2, 3, 1] as const;
const OIHW_TO_HWIO = [2, 3, 1, 0] as const;

export async function convGroup(ctx: Ctx): Promise<Row[]> {
  const rows: Row[] = [];
  const rt = ctx.rt;
  for (const s of convShapes(ctx.quick)) {
    const ho = s.h + 2 * s.pad - s.k + 1, wo = s.w + 2 * s.pad - s.k + 1;
    const xShape = [s.n, s.cin, s.h, s.w] as const, wShape = [s.cout, s.cin, s.k, s.k] as const, yShape = [s.n, s.cout, ho, wo] as const;
    const xs = randArray(s.n * s.cin * s.h * s.w), ws = randArray(s.cout * s.cin * s.k * s.k).map((v) => v * 0.1);
    const bs = randArray(s.cout), dys = randArray(s.n * s.cout * ho * wo);
    const macs = s.n * s.cout * ho * wo * s.cin * s.k * s.k;
    const shape = `${s.name}: ${fmtShape(xShape)} ⊛ ${fmtShape(wShape)}${s.pad ? ` pad ${s.pad}` : ''}`;
    const opts = { stride: 1, padding: s.pad };
    const tfPad = s.pad ? s.pad : 'valid' as const;
    const xyBytes = (xs.length + dys.length) * 4;

    // Forward (with bias).
    const fwdWork = { flops: 2 * macs, bytes: xyBytes + (ws.length + bs.length) * 4 };
    const fwd = await ours(ctx, 'conv', 'fwd', shape, fwdWork, () => {
      const x = rt.tensor(xs, xShape), w = rt.tensor(ws, wShape), b = rt.tensor(bs, [s.cout]);
      return { inputs: [x, w, b], call: () => rt.conv2d(x, w, b, opts) };
    });
    rows.push(await withPeer(ctx, fwd, fwdWork, async ({ tf }) => {
      const x = tf.tensor4d(transpose4(xs, xShape, NCHW_TO_NHWC), [s.n, s.h, s.w, s.cin]);
      const f = tf.tensor4d(transpose4(ws, wShape, OIHW_TO_HWIO), [s.k, s.k, s.cin, s.cout]);
      const b = tf.tensor1d(bs);
      return { call: () => tf.fused.conv2d({ x, filter: f, bias: b, strides: 1, pad: tfPad }), dispose: () => tf.dispose([x, f, b]) };
    }));

    // Backward: our API returns dx, dw and db from one call; tfjs runs its two backprop kernels and a sum.
    const bwdWork = { flops: 4 * macs, bytes: (2 * xs.length + dys.length + 2 * ws.length + bs.length) * 4 };
    const bwd = await ours(ctx, 'conv', 'bwd (dx+dw+db)', shape, bwdWork, () => {
      const x = rt.tensor(xs, xShape), w = rt.tensor(ws, wShape), dy = rt.tensor(dys, yShape);
      return { inputs: [x, w, dy], call: () => rt.conv2dBackward(x, w, dy, opts) };
    });
    rows.push(await withPeer(ctx, bwd, bwdWork, async ({ tf }) => {
      const t = tfConvInputs(tf, s, xs, ws, dys, xShape, wShape, yShape);
      return {
        call: () => [tfDx(tf, t, s, tfPad), tfDw(tf, t, s, tfPad), tf.sum(t.dy, [0, 1, 2])],
        dispose: () => tf.dispose([t.x, t.f, t.dy]),
      };
    }));
    // tfjs's dx and dw kernels alone, for the record (our side is the combined call above); skipped
    // where tfjs's combined backward was already slow, to keep the run's length bounded.
    const peerBwdMs = rows.at(-1)?.peer?.wallMs?.median ?? 0;
    for (const which of peerBwdMs > ctx.budget.slowMs ? [] : ['dx', 'dw'] as const) {
      const peerOnly: Row = { group: 'conv', op: `${which} (tfjs only)`, shape, status: 'skipped', error: 'our API computes dx, dw and db in one call (conv2dBackward)' };
      rows.push(await withPeer(ctx, peerOnly, { flops: 2 * macs }, async ({ tf }) => {
        const t = tfConvInputs(tf, s, xs, ws, dys, xShape, wShape, yShape);
        return { call: () => (which === 'dx' ? tfDx(tf, t, s, tfPad) : tfDw(tf, t, s, tfPad)), dispose: () => tf.dispose([t.x, t.f, t.dy]) };
      }));
    }
  }
  return rows;
}

interface TfConv { x: TF.Tensor4D; f: TF.Tensor4D; dy: TF.Tensor4D }
function tfConvInputs(tf: typeof TF, s: ConvShape, xs: Float32Array, ws: Float32Array, dys: Float32Array,
  xShape: readonly [number, number, number, number], wShape: readonly [number, number, number, number], yShape: readonly [number, number, number, number]): TfConv {
  return {
    x: tf.tensor4d(transpose4(xs, xShape, NCHW_TO_NHWC), [s.n, s.h, s.w, s.cin]),
    f: tf.tensor4d(transpose4(ws, wShape, OIHW_TO_HWIO), [s.k, s.k, s.cin, s.cout]),
    dy: tf.tensor4d(transpose4(dys, yShape, NCHW_TO_NHWC), [yShape[0], yShape[2], yShape[3], yShape[1]]),
  };
}
const tfDx = (tf: typeof TF, t: TfConv, s: ConvShape, pad: number | 'valid'): TF.Tensor =>
  tf.engine().runKernel('Conv2DBackpropInput', { dy: t.dy, filter: t.f }, { strides: 1, pad, dataFormat: 'NHWC', inputShape: [s.n, s.h, s.w, s.cin] } as never) as TF.Tensor;
const tfDw = (tf: typeof TF, t: TfConv, s: ConvShape, pad: number | 'valid'): TF.Tensor =>
  tf.engine().runKernel('Conv2DBackpropFilter', { x: t.x, dy: t.dy }, { strides: 1, pad, dataFormat: 'NHWC', filterShape: [s.k, s.k, s.cin, s.cout] } as never) as TF.Tensor;

export async function poolGroup(ctx: Ctx): Promise<Row[]> {
  const rows: Row[] = [];
  const rt = ctx.rt;
  const n = ctx.quick ? 2 : 64;
  for (const [c, h] of [[20, 24], [50, 8]] as const) {
    const xShape = [n, c, h, h] as const, yShape = [n, c, h / 2, h / 2] as const;
    const xs = randArray(n * c * h * h), dys = randArray(n * c * (h / 2) * (h / 2));
    const shape = `maxpool 2×2/2 ${fmtShape(xShape)}`;
    const opts = { kernel: 2, stride: 2 };
    const fwdWork = { bytes: (xs.length + dys.length) * 4 };
    const fwd = await ours(ctx, 'pool', 'max fwd', shape, fwdWork, () => {
      const x = rt.tensor(xs, xShape);
      return { inputs: [x], call: () => rt.maxPool2d(x, opts) };
    });
    rows.push(await withPeer(ctx, fwd, fwdWork, async ({ tf }) => {
      const x = tf.tensor4d(transpose4(xs, xShape, NCHW_TO_NHWC), [n, h, h, c]);
      return { call: () => tf.maxPool(x, 2, 2, 'valid'), dispose: () => x.dispose() };
    }));
    // reads x and dy, writes dx
    const bwdWork = { bytes: (2 * xs.length + dys.length) * 4 };
    const bwd = await ours(ctx, 'pool', 'max bwd', shape, bwdWork, () => {
      const x = rt.tensor(xs, xShape), dy = rt.tensor(dys, yShape);
      return { inputs: [x, dy], call: () => rt.maxPool2dBackward(x, dy, opts) };
    });
    rows.push(await withPeer(ctx, bwd, bwdWork, async ({ tf }) => {
      const x = tf.tensor4d(transpose4(xs, xShape, NCHW_TO_NHWC), [n, h, h, c]);
      const dy = tf.tensor4d(transpose4(dys, yShape, NCHW_TO_NHWC), [n, h / 2, h / 2, c]);
      const y = tf.maxPool(x, 2, 2, 'valid');
      return {
        call: () => tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: 2, strides: 2, pad: 'valid' } as never) as TF.Tensor,
        dispose: () => tf.dispose([x, dy, y]),
      };
    }));
  }
  return rows;
}

export async function linearGroup(ctx: Ctx): Promise<Row[]> {
  const rows: Row[] = [];
  const rt = ctx.rt;
  const n = ctx.quick ? 2 : 64;
  for (const [inF, outF] of [[800, 500], [500, 10]] as const) {
    const xs = randArray(n * inF), ws = randArray(outF * inF).map((v) => v * 0.05), bs = randArray(outF), dys = randArray(n * outF);
    const shape = `${n}×${inF} → ${outF}`;
    const fwdWork = { flops: 2 * n * inF * outF, bytes: (xs.length + ws.length + bs.length + dys.length) * 4 };
    const fwd = await ours(ctx, 'linear', 'fwd', shape, fwdWork, () => {
      const x = rt.tensor(xs, [n, inF]), w = rt.tensor(ws, [outF, inF]), b = rt.tensor(bs, [outF]);
      return { inputs: [x, w, b], call: () => rt.linear(x, w, b) };
    });
    rows.push(await withPeer(ctx, fwd, fwdWork, async ({ tf }) => {
      const x = tf.tensor2d(xs, [n, inF]), w = tf.tensor2d(ws, [outF, inF]), b = tf.tensor1d(bs);
      return { call: () => tf.fused.matMul({ a: x, b: w, transposeB: true, bias: b }), dispose: () => tf.dispose([x, w, b]) };
    }));
    const bwdWork = { flops: 4 * n * inF * outF, bytes: (2 * xs.length + 2 * ws.length + bs.length + dys.length) * 4 };
    const bwd = await ours(ctx, 'linear', 'bwd (dx+dw+db)', shape, bwdWork, () => {
      const x = rt.tensor(xs, [n, inF]), w = rt.tensor(ws, [outF, inF]), dy = rt.tensor(dys, [n, outF]);
      return { inputs: [x, w, dy], call: () => rt.linearBackward(x, w, dy) };
    });
    rows.push(await withPeer(ctx, bwd, bwdWork, async ({ tf }) => {
      const x = tf.tensor2d(xs, [n, inF]), w = tf.tensor2d(ws, [outF, inF]), dy = tf.tensor2d(dys, [n, outF]);
      return {
        call: () => [tf.matMul(dy, w), tf.matMul(dy, x, true, false), tf.sum(dy, 0)],
        dispose: () => tf.dispose([x, w, dy]),
      };
    }));
  }
  return rows;
}
