// Softmax cross-entropy: mean loss over the batch, its gradient and the batch's correct count.
// Labels out of range: the eager ops check labels uploaded from the host (rt.tensor) at the call,
// naming the first bad one; otherwise (labels the host has not seen, or the encoder in a graph or a
// caller's encoder) the kernel makes that row's loss and gradient NaN, so the mean loss is NaN.
import { NAN_BITS, softmaxXentKernel } from '../../kernels/softmax_xent.wgsl.js';
import { Tensor, type Dispatch, type EncodeContext, type GpuRuntime, type TensorRef } from '../gpu/runtime.js';
import { dtype, fail, operand, rank, shapeIs } from './validate.js';

function check(op: string, logits: TensorRef, labels: TensorRef, eager = false): [number, number] {
  rank(op, 'logits', logits, 2, '[N, C]');
  dtype(op, 'logits', logits, 'f32');
  operand(op, 'labels', labels);
  dtype(op, 'labels', labels, 'i32');
  const [n, c] = logits.shape as [number, number];
  if (labels.size !== n || labels.shape.length !== 1) fail(op, `labels must have shape [${n}] (one per row of logits), got [${labels.shape}]`);
  const host = eager && labels instanceof Tensor ? labels.host : undefined;
  if (host) {
    const bad = host.findIndex((v) => v < 0 || v >= c);
    if (bad >= 0) fail(op, `label ${host[bad]} at row ${bad} is out of range [0, ${c})`);
  }
  return [n, c];
}

/** loss [1] = mean over rows of −log softmax(logits [N, C])[label], labels i32 [N]; optionally
 * dlogits [N, C] (its gradient: (softmax − onehot)/N) and correct [1] (rows whose first argmax is the
 * label, as f32). */
export function encodeSoftmaxCrossEntropy(ctx: EncodeContext, logits: TensorRef, labels: TensorRef, loss: TensorRef,
  extra: { dlogits?: TensorRef; correct?: TensorRef } = {}): Dispatch[] {
  const op = 'softmaxCrossEntropy';
  const [n, c] = check(op, logits, labels);
  shapeIs(op, 'loss', loss, [1]);
  if (extra.dlogits) shapeIs(op, 'dlogits', extra.dlogits, [n, c]);
  if (extra.correct) shapeIs(op, 'correct', extra.correct, [1]);
  const buffers = [logits, labels, loss, ...(extra.dlogits ? [extra.dlogits] : []), ...(extra.correct ? [extra.correct] : [])];
  return [{
    kernel: softmaxXentKernel(Boolean(extra.dlogits), Boolean(extra.correct)),
    buffers, params: { N: n, C: c, invN: 1 / n, nanBits: NAN_BITS }, workgroups: 1,
  }];
}

export function softmaxCrossEntropy(rt: GpuRuntime, logits: Tensor, labels: Tensor): Tensor {
  check('softmaxCrossEntropy', logits, labels, true);
  return rt.op('softmaxCrossEntropy', () => rt.empty([1], 'f32', 'xent loss'), (l, ctx) => encodeSoftmaxCrossEntropy(ctx, logits, labels, l));
}

export function softmaxCrossEntropyBackward(rt: GpuRuntime, logits: Tensor, labels: Tensor): Tensor {
  check('softmaxCrossEntropyBackward', logits, labels, true);
  return rt.op('softmaxCrossEntropyBackward', () => rt.empty(logits.shape, 'f32', 'xent dlogits'),
    (dl, ctx) => encodeSoftmaxCrossEntropy(ctx, logits, labels, ctx.scratch([1], 'f32', 'xent loss'), { dlogits: dl }));
}
