// A full training step of each of the paper's MNIST nets (conv 20@5×5 → maxpool 2 → conv 50@5×5 →
// maxpool 2 → the FC part: dense 800→500 → relu → dense 500→10 for the reference net, a Fastfood
// layer of 1024 or 2048 and a dense classifier for the others; softmax cross-entropy, SGD): images/s
// at batch 64, the step's FLOP per image, GFLOP/s and fraction of the FMA-loop rate, and the GPU
// memory the compiled step holds. Ours is the scheduler's compiled step (src/nn compileTrainer).
// Peers on the reference net: tfjs (no Fastfood), built here from tfjs-core alone (no tfjs-layers),
// and jax-js (../lib/jaxjs.ts) in each configuration that runs: jitted on WebGPU, eager and jitted
// on wasm. Every side is timed by the rules of bench/lib/measure.ts (ours: measureStep below,
// measureOurs' rules with probes between repetitions; peers: measurePeer).
import type * as TF from '@tensorflow/tfjs-core';
import type { GpuRuntime } from '../../src/gpu/runtime.js';
import { Conv2d, Fastfood, Linear } from '../../src/nn/layers.js';
import { MNIST_MODELS, mnistModel, type MnistModelName, type Sequential } from '../../src/nn/model.js';
import { compileTrainer, type Trainer } from '../../src/nn/trainer.js';
import { derive, limitsOf, randArray, statusOf, type Ctx } from '../lib/context.js';
import { JAX_CONFIGS, jaxName, jaxTrainStep, loadJax, type JaxPeer } from '../lib/jaxjs.js';
import { errorText } from '../lib/measure.js';
import { Probe, type ProbeSample } from '../lib/probe.js';
import type { Peer } from '../lib/tfjs.js';
import { innerCalls, now, repsFor, stat, type Budget } from '../lib/stats.js';
import type { Limits, PeerFigures, Row, Stat } from '../lib/types.js';

/** Bytes of GPU memory in use (held by someone, not waiting in the runtime's pool). */
const bytesInUse = (rt: GpuRuntime): number => rt.stats().liveBytes - rt.stats().pooledBytes;

/**
 * FLOP of one training step per image, from the layer shapes: for each conv and linear layer the
 * forward product and the two backward products, dX (input gradient) and dW (weight gradient),
 * each as many multiply-adds as the forward, a multiply-add counting 2 FLOP:
 *   conv Cin→Cout, kh×kw, output Ho×Wo:  F = 2·Cout·Ho·Wo·Cin·kh·kw
 *   linear in→out:                       F = 2·in·out
 *   step = Σ (F forward + F dW + F dX), without dX for the first layer (nothing below needs it; no
 *   implementation here computes it).
 * Fastfood (d, blocks; not a conv or linear, under 1% of these steps): per block, forward
 * 2·d·log2 d (two FWHTs, d·log2 d adds each) + 3·d (the B, G, S diagonals), dX the same (the
 * transposed chain), dW (adaptive only) 6·d (dB, dG, dS: a multiply-add per entry).
 * Not counted: biases, ReLU, max-pool, the softmax cross-entropy, the SGD update (elementwise;
 * together under 0.5% of the reference step).
 * Reference net: conv1 2·576 000 + conv2 3·3 200 000 + fc1 3·800 000 + fc2 3·10 000 = 13 182 000.
 */
export function stepFlopsPerImage(model: Sequential): number {
  let shape: number[] = [1, ...model.inputShape];
  let flops = 0;
  model.layers.forEach((l, i) => {
    const out = l.outShape(shape);
    const passes = i === 0 ? 2 : 3; // forward + dW (+ dX)
    if (l instanceof Conv2d) {
      flops += passes * 2 * l.cout * out[2]! * out[3]! * l.cin * l.kh * l.kw;
    } else if (l instanceof Linear) {
      flops += passes * 2 * l.inFeatures * l.outFeatures;
    } else if (l instanceof Fastfood) {
      const f = 2 * l.d * Math.log2(l.d) + 3 * l.d;
      flops += l.blocks * ((i === 0 ? 1 : 2) * f + (l.adaptive ? 6 * l.d : 0));
    }
    shape = out;
  });
  return flops;
}

/** Our side: an MNIST net compiled by the scheduler (compileTrainer, one submit per step), plain SGD
 * like the peers. Returns one step on a fixed batch (resolving once it is queued), the model's
 * parameter count, the step's FLOP per image, the bytes the model and its compiled step hold, and
 * a cleanup. */
export async function ourTrainStep(ctx: Ctx, batch: number, name: MnistModelName = 'reference'):
  Promise<{ step: () => Promise<unknown>; params: number; flopsPerImage: number; heldBytes: () => number; dispose: () => void }> {
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
    step: () => trainer.step(x, labels), params: model.parameterCount, flopsPerImage: stepFlopsPerImage(model),
    heldBytes: () => bytesInUse(ctx.rt) - before,
    dispose: () => { trainer.destroy(); model.dispose(); },
  };
}

/** FMA-loop length (ms) of the probes beside each training step (the suite's are 10 ms). */
const TRAIN_PROBE_FMA_MS = 100;

/**
 * Times a step by measureOurs' rules (bench/lib/measure.ts: a warm-up, a second one when the first
 * was cheap, fast steps batched by innerCalls, repetitions by repsFor within the budget, each
 * ending in a queue sync; wall clock, as the GPU timer sees only eager dispatches and a step is a
 * compiled graph), with one change: a copy/FMA probe runs right before every timed repetition and
 * once after the last, and the row's limits are the median of those samples. A step takes a second or more on SwiftShader, and on a
 * loaded machine the before/after pair of context.ts ours() swung several-fold between the rows of
 * one run (FMA probes of 1.1 to 6.3 GFLOP/s around steps of the same speed).
 */
async function measureStep(ctx: Ctx, probe: Probe | undefined, step: () => Promise<unknown>): Promise<{ wallMs: Stat; local?: Limits }> {
  const { rt, budget } = ctx;
  /** Wall ms per step of `n` steps queued back to back, then a queue sync. */
  const time = async (n: number) => {
    const t = now();
    for (let i = 0; i < n; i++) await step();
    await rt.sync();
    return (now() - t) / n;
  };
  const warm = await time(1);
  if (warm > 3 * budget.slowMs) return { wallMs: stat([warm]) };
  let est = warm;
  if (budget.secondWarmup && warm < budget.slowMs / 4) est = await time(1);
  const inner = innerCalls(est, budget);
  const reps = repsFor(est * inner, budget);
  const wall: number[] = [], samples: ProbeSample[] = [];
  for (let r = 0; r < reps; r++) {
    if (probe) samples.push(await probe.sample());
    wall.push(await time(inner));
  }
  if (probe) samples.push(await probe.sample());
  const med = (k: keyof ProbeSample) => stat(samples.map((x) => x[k])).median;
  return { wallMs: stat(wall), ...(samples.length ? { local: { gbps: med('gbps'), gflops: med('gflops'), gops: med('gops') } } : {}) };
}

async function ourRow(ctx: Ctx, batch: number, name: MnistModelName, probe: Probe | undefined): Promise<Row> {
  const row: Row = { group: 'train-step', op: 'step', shape: `MNIST ${name} net, batch ${batch}, SGD`, status: 'ok' };
  let flopsPerImage: number | undefined;
  try {
    const s = await ourTrainStep(ctx, batch, name);
    flopsPerImage = s.flopsPerImage;
    try {
      const t = await measureStep(ctx, probe, s.step);
      if (t.local) row.local = t.local;
      row.wallMs = t.wallMs;
      derive(row, { flops: flopsPerImage * batch }, ctx.baselines);
      row.extra = { model: name, params: s.params, flopPerImage: flopsPerImage, gpuBytes: s.heldBytes(), imagesPerSecond: batch / (row.wallMs.median / 1000) };
    } finally {
      s.dispose();
    }
  } catch (e) {
    row.status = statusOf(e);
    row.error = errorText(e);
    if (flopsPerImage !== undefined) row.flops = flopsPerImage * batch;
  }
  ctx.log(`  ours (${name}): ${row.status === 'ok'
    ? `${row.wallMs!.median.toFixed(1)} ms/step = ${(+row.extra!.imagesPerSecond!).toFixed(1)} images/s, ${row.gflops!.toFixed(2)} GFLOP/s (${(100 * row.fracFma!).toFixed(1)}% FMA), ${((row.extra!.gpuBytes as number) / 2 ** 20).toFixed(1)} MiB held`
    : `${row.status}${row.error ? ` (${row.error})` : ''}`}`);
  return row;
}

/** A peer's figures on the reference net from its wall time per step: images/s, GFLOP/s and the
 * fraction of the reference row's FMA-loop rate (its probes; derivePeer does the same for `peer`). */
function peerFigures(ctx: Ctx, row: Row, name: string, batch: number, wall: Stat, extra: Record<string, number | string>): PeerFigures {
  const f: PeerFigures = { name, status: 'ok', wallMs: wall };
  const ips = batch / (wall.median / 1000);
  if (row.flops) {
    f.gflops = row.flops / (wall.median * 1e6);
    f.fracFma = f.gflops / (row.local ?? limitsOf(ctx.baselines)).gflops;
  }
  f.extra = { imagesPerSecond: ips, ...extra };
  if (row.status === 'ok' && row.wallMs) f.extra.oursOverThis = wall.median / row.wallMs.median;
  return f;
}

/** The reference net first (the tfjs comparison and its target), then the Fastfood nets (full runs),
 * then the peers on the reference net: tfjs, then each jax-js configuration. */
export async function trainGroup(ctx: Ctx): Promise<Row[]> {
  const batch = ctx.quick ? 2 : 64;
  let probe: Probe | undefined;
  try {
    probe = ctx.probe && !ctx.quick ? await Probe.create(ctx.rt, ctx.timer, ctx.baselines, 16, TRAIN_PROBE_FMA_MS) : ctx.probe;
  } catch {
    probe = ctx.probe;
  }
  const row = await ourRow(ctx, batch, 'reference', probe);
  const rest: Row[] = [];
  for (const name of ctx.quick ? [] : MNIST_MODELS.filter((m) => m !== 'reference')) rest.push(await ourRow(ctx, batch, name, probe));
  if (probe && probe !== ctx.probe) probe.dispose();

  if (!ctx.peer) {
    row.peer = { name: 'tfjs-webgpu', status: 'error', error: ctx.peerError ?? 'tfjs peer not loaded' };
  } else {
    try {
      const { wallMs, gpuBytes } = await tfjsTrainStep(ctx.peer, batch, ctx.budget);
      row.peer = peerFigures(ctx, row, 'tfjs-webgpu', batch, wallMs, gpuBytes !== undefined ? { gpuBytes } : {});
      row.extra = { ...row.extra, peerImagesPerSecond: batch / (wallMs.median / 1000) };
      if (row.status === 'ok' && row.wallMs) row.ratio = wallMs.median / row.wallMs.median;
      ctx.log(`    tfjs: ${wallMs.median.toFixed(1)} ms/step = ${(batch / (wallMs.median / 1000)).toFixed(2)} images/s`);
    } catch (e) {
      row.peer = { name: 'tfjs-webgpu', status: 'error', error: errorText(e) };
      ctx.log(`    tfjs: error ${errorText(e)}`);
    }
  }

  row.peers = await jaxPeers(ctx, row, batch);
  return [row, ...rest];
}

/** Each jax-js configuration on the reference net; 'unavailable' where its backend is missing here. */
async function jaxPeers(ctx: Ctx, row: Row, batch: number): Promise<PeerFigures[]> {
  let peer: JaxPeer;
  try {
    peer = await loadJax();
  } catch (e) {
    const error = `jax-js failed to load: ${errorText(e)}`;
    ctx.log(`    jax-js: ${error}`);
    return JAX_CONFIGS.map((c) => ({ name: jaxName(c), status: 'unavailable', error }));
  }
  const out: PeerFigures[] = [];
  for (const c of JAX_CONFIGS) {
    const name = jaxName(c), why = peer.devices[c.device];
    if (why !== null) {
      out.push({ name, status: 'unavailable', error: why });
      ctx.log(`    ${name}: unavailable: ${why}`);
      continue;
    }
    try {
      const r = await jaxTrainStep(peer, c, batch, ctx.budget);
      const f = peerFigures(ctx, row, name, batch, r.wallMs, {
        ...(r.gpuBytes !== undefined ? { gpuBytes: r.gpuBytes } : {}),
        version: peer.version, runsOn: c.device === 'wasm' ? `wasm, ${peer.wasmThreads}` : 'WebGPU (its own device on the default adapter)',
        loss: r.loss,
      });
      out.push(f);
      ctx.log(`    ${name}: ${r.wallMs.median.toFixed(1)} ms/step = ${(+f.extra!.imagesPerSecond!).toFixed(2)} images/s${f.gflops !== undefined ? `, ${f.gflops.toFixed(3)} GFLOP/s` : ''}`);
    } catch (e) {
      out.push({ name, status: statusOf(e), error: errorText(e) });
      ctx.log(`    ${name}: error ${errorText(e)}`);
    }
  }
  return out;
}

/** Bytes tfjs-backend-webgpu has in use (not in its pool), where its memory() reports it. */
const tfjsGpuBytes = (tf: typeof TF): number | undefined => (tf.memory() as { numBytesInGPU?: number }).numBytesInGPU;

/** One SGD step of the reference net in tfjs-core (NHWC), timed by measurePeer under `budget`. */
export async function tfjsTrainStep(peer: Peer, batch: number, budget: Budget): Promise<{ wallMs: Stat; gpuBytes?: number }> {
  const tf = peer.tf;
  const before = tfjsGpuBytes(tf);
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
  try {
    // peer.time: measurePeer (warm-up, repetitions within the budget, each ending in a sync) around
    // tf.tidy(minimize); the returned loss is disposed after each repetition.
    const wallMs = await peer.time(budget, () => opt.minimize(loss, true)!);
    const after = tfjsGpuBytes(tf);
    return { wallMs, ...(before !== undefined && after !== undefined ? { gpuBytes: after - before } : {}) };
  } finally {
    tf.dispose([x, labels, ...Object.values(v)]);
    opt.dispose();
  }
}
