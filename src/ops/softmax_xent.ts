// Softmax cross-entropy: mean loss over the batch, its gradient and the batch's correct count.
// Out-of-range labels: the kernel makes that row's loss and gradient NaN (so the mean loss is NaN);
// the functional ops read the loss back and, when it is NaN, read the labels and throw naming the
// first bad one. A training graph that calls encodeSoftmaxCrossEntropy sees a NaN loss.
import { NAN_BITS, softmaxXentKernel } from '../../kernels/softmax_xent.wgsl.js';
import type { Dispatch, EncodeContext, GpuRuntime, Tensor } from '../gpu/runtime.js';
import { dtype, fail, rank } from './validate.js';

function shapeIs(op: string, name: string, t: Tensor, shape: readonly number[]): void {
  if (t.disposed) fail(op, `${name} was used after dispose()`);
  if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) fail(op, `${name} must have shape [${shape}], got [${t.shape}]`);
  dtype(op, name, t, 'f32');
}

function check(op: string, logits: Tensor, labels: Tensor): [number, number] {
  rank(op, 'logits', logits, 2, '[N, C]');
  dtype(op, 'logits', logits, 'f32');
  if (labels.disposed) fail(op, 'labels was used after dispose()');
  dtype(op, 'labels', labels, 'i32');
  const [n, c] = logits.shape as [number, number];
  if (labels.size !== n || labels.shape.length !== 1) fail(op, `labels must have shape [${n}] (one per row of logits), got [${labels.shape}]`);
  return [n, c];
}

export function encodeSoftmaxCrossEntropy(ctx: EncodeContext, logits: Tensor, labels: Tensor, loss: Tensor,
  extra: { dlogits?: Tensor; correct?: Tensor } = {}): Dispatch[] {
  const op = 'softmaxCrossEntropy';
  const [n, c] = check(op, logits, labels);
  shapeIs(op, 'loss', loss, [1]);
  if (extra.dlogits) shapeIs(op, 'dlogits', extra.dlogits, [n, c]);
  if (extra.correct) shapeIs(op, 'correct', extra.correct, [1]);
  const buffers = [logits, labels, loss, ...(extra.dlogits ? [extra.dlogits] : []), ...(extra.correct ? [extra.correct] : [])];
  return [{
    kernel: softmaxXentKernel(Boolean(extra.dlogits), Boolean(extra.correct)),
    buffers, params: [n, c, 1 / n, NAN_BITS], workgroups: 1,
  }];
}

async function throwOnBadLabel(op: string, loss: Tensor, labels: Tensor, classes: number): Promise<void> {
  const l = (await loss.read())[0]!;
  if (!Number.isNaN(l)) return;
  const ls = await labels.read();
  const bad = ls.findIndex((v) => v < 0 || v >= classes);
  if (bad >= 0) fail(op, `label ${ls[bad]} at row ${bad} is out of range [0, ${classes})`);
}

export async function softmaxCrossEntropy(rt: GpuRuntime, logits: Tensor, labels: Tensor): Promise<Tensor> {
  const [, c] = check('softmaxCrossEntropy', logits, labels);
  const loss = await rt.produce('softmaxCrossEntropy', () => rt.empty([1], 'f32', 'xent loss'),
    (l, ctx) => encodeSoftmaxCrossEntropy(ctx, logits, labels, l));
  try {
    await throwOnBadLabel('softmaxCrossEntropy', loss, labels, c);
  } catch (e) {
    loss.dispose();
    throw e;
  }
  return loss;
}

export async function softmaxCrossEntropyBackward(rt: GpuRuntime, logits: Tensor, labels: Tensor): Promise<Tensor> {
  const [, c] = check('softmaxCrossEntropyBackward', logits, labels);
  const out = await rt.produce('softmaxCrossEntropyBackward', () => ({
    loss: rt.empty([1], 'f32', 'xent loss'), dlogits: rt.empty(logits.shape, 'f32', 'xent dlogits'),
  }), (o, ctx) => encodeSoftmaxCrossEntropy(ctx, logits, labels, o.loss, { dlogits: o.dlogits }));
  try {
    await throwOnBadLabel('softmaxCrossEntropyBackward', out.loss, labels, c);
  } catch (e) {
    out.dlogits.dispose();
    throw e;
  } finally {
    out.loss.dispose();
  }
  return out.dlogits;
}
