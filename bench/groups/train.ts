// A full training step of each of the paper's MNIST nets (conv 20@5×5 → maxpool 2 → conv 50@5×5 →
// maxpool 2 → the FC part: dense 800→500 → relu → dense 500→10 for the reference net, a Fastfood
// layer of 1024 or 2048 and a dense classifier for the others; softmax cross-entropy, SGD): images/s
// at batch 64 and the GPU memory the compiled step holds. Ours is the scheduler's compiled step
// (src/nn compileTrainer); tfjs, which has no Fastfood, trains the reference net, built here from
// tfjs-core alone (no tfjs-layers).
import type * as TF from '@tensorflow/tfjs-core';
import type { GpuRuntime } from '../../src/gpu/runtime.js';
import { MNIST_MODELS, mnistModel, type MnistModelName } from '../../src/nn/model.js';
import { compileTrainer, type Trainer } from '../../src/nn/trainer.js';
import { randArray, statusOf, type Ctx } from '../lib/context.js';
import { errorText } from '../lib/measure.js';
import { stat } from '../lib/stats.js';
import type { Row, Stat } from '../lib/types.js';

/** Bytes of GPU memory in use (held by someone, not waiting in the runtime's pool). */
const bytesInUse = (rt: GpuRuntime): number => rt.stats().liveBytes - rt.stats().pooledBytes;

/** Our side: an MNIST net compiled by the scheduler (compileTrainer, one submit per step), plain SGD
 * like the tfjs side. Returns one step on a fixed batch (resolving once it is queued), the model's
 * parameter count, the bytes the model and its compiled step hold, and a cleanup. */
export async function ourTrainStep(ctx: Ctx, batch: number, name: MnistModelName = 'reference'):
  Promise<{ step: () => Promise<unknown>; params: number; heldBytes: () => number; dispose: () => void }> {
  const before = bytesInUse(ctx.rt);
  const model = mnistModel(name).init(ctx.rt, 1);
  let trainer: Trainer;
  try {
    trainer = await compileTrainer(ctx.rt, model, { batch, optimizer: { kind: 'sgd', lr: 0.01, momentum: 0 }, maxInFlight: 1 });
  } catch (e) {
    model.dispose();
    throw e;
  }
  const x = randArray(batch * 28 * 28).map((a) => (a + 1) / 2);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
  return {
    step: () => trainer.step(x, labels), params: model.parameterCount, heldBytes: () => bytesInUse(ctx.rt) - before,
    dispose: () => { trainer.destroy(); model.dispose(); },
  };
}

async function ourRow(ctx: Ctx, batch: number, name: MnistModelName): Promise<Row> {
  const row: Row = { group: 'train-step', op: 'step', shape: `MNIST ${name} net, batch ${batch}, SGD`, status: 'ok' };
  try {
    const { step, params, heldBytes, dispose } = await ourTrainStep(ctx, batch, name);
    try {
      const times: number[] = [];
      await step(); await ctx.rt.sync();
      for (let r = 0; r < (ctx.quick ? 2 : 5); r++) {
        const t = performance.now();
        await step(); await ctx.rt.sync();
        times.push(performance.now() - t);
      }
      row.wallMs = stat(times);
      row.extra = { model: name, params, gpuBytes: heldBytes(), imagesPerSecond: batch / (row.wallMs.median / 1000) };
    } finally {
      dispose();
    }
  } catch (e) {
    row.status = statusOf(e);
    row.error = errorText(e);
  }
  ctx.log(`  ours (${name}): ${row.status === 'ok' ? `${row.wallMs!.median.toFixed(1)} ms/step, ${((row.extra!.gpuBytes as number) / 2 ** 20).toFixed(1)} MiB held` : row.status}`);
  return row;
}

/** The reference net first (the tfjs comparison and its target), then the Fastfood nets (full runs). */
export async function trainGroup(ctx: Ctx): Promise<Row[]> {
  const batch = ctx.quick ? 2 : 64;
  const row = await ourRow(ctx, batch, 'reference');
  const rest: Row[] = [];
  for (const name of ctx.quick ? [] : MNIST_MODELS.filter((m) => m !== 'reference')) rest.push(await ourRow(ctx, batch, name));

  if (!ctx.peer) {
    row.peer = { name: 'tfjs-webgpu', status: 'error', error: ctx.peerError ?? 'tfjs peer not loaded' };
    return [row, ...rest];
  }
  try {
    const wall = await tfjsTrainStep(ctx.peer.tf, batch, ctx.quick ? 1 : 3, ctx.peer.sync);
    row.peer = { name: 'tfjs-webgpu', status: 'ok', wallMs: wall };
    row.extra = { ...row.extra, peerImagesPerSecond: batch / (wall.median / 1000) };
    if (row.status === 'ok' && row.wallMs) row.ratio = wall.median / row.wallMs.median;
    ctx.log(`    tfjs: ${wall.median.toFixed(1)} ms/step = ${(batch / (wall.median / 1000)).toFixed(2)} images/s`);
  } catch (e) {
    row.peer = { name: 'tfjs-webgpu', status: 'error', error: errorText(e) };
    ctx.log(`    tfjs: error ${errorText(e)}`);
  }
  return [row, ...rest];
}

/** One SGD step of the reference net in tfjs-core (NHWC), timed over `reps` steps after a warm-up. */
export async function tfjsTrainStep(tf: typeof TF, batch: number, reps: number, sync: () => Promise<void>): Promise<Stat> {
  const init = (shape: number[], scale: number) => tf.variable(tf.tensor(randArray(shape.reduce((a, b) => a * b, 1)).map((v) => v * scale), shape));
  const v = {
    w1: init([5, 5, 1, 20], 0.2), b1: tf.variable(tf.zeros([20])),
    w2: init([5, 5, 20, 50], 0.05), b2: tf.variable(tf.zeros([50])),
    w3: init([800, 500], 0.05), b3: tf.variable(tf.zeros([500])),
    w4: init([500, 10], 0.1), b4: tf.variable(tf.zeros([10])),
  };
  const x = tf.tensor4d(randArray(batch * 28 * 28).map((a) => (a + 1) / 2), [batch, 28, 28, 1]);
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), 'int32'), 10);
  const opt = tf.train.sgd(0.01);
  const loss = (): TF.Scalar => {
    const h1 = tf.maxPool(tf.add(tf.conv2d(x, v.w1 as TF.Tensor4D, 1, 'valid'), v.b1) as TF.Tensor4D, 2, 2, 'valid');
    const h2 = tf.maxPool(tf.add(tf.conv2d(h1, v.w2 as TF.Tensor4D, 1, 'valid'), v.b2) as TF.Tensor4D, 2, 2, 'valid');
    const f = tf.reshape(h2, [batch, 800]) as TF.Tensor2D;
    const h3 = tf.relu(tf.add(tf.matMul(f, v.w3), v.b3)) as TF.Tensor2D;
    const logits = tf.add(tf.matMul(h3, v.w4), v.b4);
    return tf.losses.softmaxCrossEntropy(labels, logits) as TF.Scalar;
  };
  const step = async () => {
    const l = opt.minimize(loss, true);
    await sync();
    l?.dispose();
  };
  try {
    await step();
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t = performance.now();
      await step();
      times.push(performance.now() - t);
    }
    return stat(times);
  } finally {
    tf.dispose([x, labels, ...Object.values(v)]);
    opt.dispose();
  }
}
