// Compiles a model into a static training step (forward, loss, backward, optimizer) and an
// inference step, and drives them: one writeBuffer for the batch, one submit per step, and
// loss/accuracy read back through staging buffers only when asked.
import { accumulateKernel, adamKernel, HYPER, optimWorkgroups, sgdKernel } from '../../kernels/optim.wgsl.js';
import type { Dataset } from '../data/mnist.js';
import { type CompiledGraph, GraphBuilder } from '../graph/graph.js';
import { checkFinite, type GpuRuntime, type Tensor } from '../gpu/runtime.js';
import { encodeSoftmaxCrossEntropy } from '../ops/softmax_xent.js';
import type { BuildContext, Param } from './layers.js';
import type { Sequential } from './model.js';

export type OptimizerConfig =
  | { kind: 'sgd'; lr: number; momentum?: number; weightDecay?: number }
  | { kind: 'adam'; lr: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number };

/** Learning-rate multiplier per step. */
export type Schedule = (step: number) => number;
/** Caffe's "inv" policy, used by its LeNet solver: (1 + γ·t)^(−p). */
export const invSchedule = (gamma = 1e-4, power = 0.75): Schedule => (t) => (1 + gamma * t) ** -power;

export interface TrainerOptions {
  batch: number;
  optimizer: OptimizerConfig;
  schedule?: Schedule;
  /** Steps that may be queued on the GPU before step() waits (default 2). */
  maxInFlight?: number;
}

export interface StepStats { steps: number; loss: number; accuracy: number }
export interface EvalResult { loss: number; error: number; count: number }

interface Forward { graph: CompiledGraph; x: Tensor; labels: Tensor; acc: Tensor[]; classes: number }

function buildForward(rt: GpuRuntime, model: Sequential, batch: number, train: boolean, hyper: Tensor, grads?: Map<Param, Tensor>) {
  const g = new GraphBuilder(rt, `${train ? 'train' : 'eval'} ${model.name} batch ${batch}`);
  const x = rt.empty([batch, ...model.inputShape], 'f32', 'batch x');
  const labels = rt.empty([batch], 'i32', 'batch labels');
  const c: BuildContext = {
    g, train, hyper,
    grad: (p) => {
      if (!grads) throw new Error('deepfried: gradients requested in an inference graph');
      let t = grads.get(p);
      if (!t) { t = g.value(p.shape, 'f32', `grad ${p.name}`); grads.set(p, t); }
      return t;
    },
  };
  const nodes = [];
  let h = x;
  for (const l of model.layers) { const n = l.compile(c, h); nodes.push(n); h = n.y; }
  if (h.shape.length !== 2) throw new Error(`deepfried: ${model.name} ends in shape [${h.shape}], expected logits [batch, classes]`);
  const loss = g.value([1], 'f32', 'loss'), correct = g.value([1], 'f32', 'correct');
  const dlogits = train ? g.value(h.shape, 'f32', 'dlogits') : undefined;
  g.emit('softmax cross-entropy', (ctx) => encodeSoftmaxCrossEntropy(ctx, h, labels, loss, { dlogits, correct }));
  const acc = [rt.zeros([1]), rt.zeros([1])];
  g.emit('stats', () => [loss, correct].map((src, i) => ({ kernel: accumulateKernel(), buffers: [src, acc[i]!], params: [1], workgroups: 1 })));
  return { g, x, labels, acc, nodes, dlogits, classes: h.shape[1]! };
}

export class Trainer {
  readonly hyper: Tensor;
  #train!: Forward;
  #evals = new Map<number, Forward>();
  #state = new Map<Param, Tensor[]>();
  #inFlight: Promise<void>[] = [];
  #sinceStats = 0;
  #step = 0;
  #destroyed = false;

  private constructor(readonly rt: GpuRuntime, readonly model: Sequential, readonly opts: TrainerOptions) {
    this.hyper = rt.zeros([HYPER.length]);
  }

  static async compile(rt: GpuRuntime, model: Sequential, opts: TrainerOptions): Promise<Trainer> {
    if (!Number.isInteger(opts.batch) || opts.batch < 1) throw new Error(`deepfried: batch must be a positive integer, got ${opts.batch}`);
    if (!(opts.optimizer.lr > 0)) throw new Error(`deepfried: learning rate must be positive, got ${opts.optimizer.lr}`);
    const t = new Trainer(rt, model, opts);
    await t.#compileTrain();
    return t;
  }

  get steps(): number { return this.#step; }
  /** Sets the step counter (the learning-rate schedule's position) after loading a checkpoint. */
  restoreStep(step: number): void {
    if (!Number.isInteger(step) || step < 0) throw new Error(`deepfried: bad step ${step}`);
    this.#step = step;
  }
  /** Optimizer state tensors per parameter (momentum; or Adam's m and v). */
  get state(): ReadonlyMap<Param, Tensor[]> { return this.#state; }
  get activationBytes(): number { return this.#train.graph.activationBytes; }
  /** GPU time of one training step, per op and kernel (see CompiledGraph.profile). */
  profile() { return this.#train.graph.profile(); }

  async #compileTrain(): Promise<void> {
    const { rt, model, opts } = this;
    const grads = new Map<Param, Tensor>();
    const f = buildForward(rt, model, opts.batch, true, this.hyper, grads);
    let dy = f.dlogits!;
    for (let i = f.nodes.length - 1; i >= 0; i--) {
      const dx = f.nodes[i]!.backward(dy, i > 0);
      if (i > 0) {
        if (!dx) throw new Error(`deepfried: layer ${i} (${model.layers[i]!.kind}) returned no input gradient`);
        dy = dx;
      }
    }
    const o = opts.optimizer;
    for (const p of model.params) {
      const grad = grads.get(p);
      if (!p.trainable || !grad) continue;
      const decay = p.decay ? o.weightDecay ?? 0 : 0;
      const state = (o.kind === 'sgd' ? [0] : [0, 1]).map(() => rt.zeros(p.shape));
      this.#state.set(p, state);
      f.g.emit(`${o.kind} ${p.name}`, () => [o.kind === 'sgd'
        ? { kernel: sgdKernel(), buffers: [this.hyper, grad, p.value, ...state], params: [p.value.size, o.momentum ?? 0.9, decay, p.scale ** 2], workgroups: optimWorkgroups(p.value.size) }
        : { kernel: adamKernel(), buffers: [this.hyper, grad, p.value, ...state], params: [p.value.size, o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.eps ?? 1e-8, decay, p.scale], workgroups: optimWorkgroups(p.value.size) }]);
    }
    this.#train = { graph: await f.g.compile(), x: f.x, labels: f.labels, acc: f.acc, classes: f.classes };
  }

  #hyperFor(step: number): Float32Array {
    const o = this.opts.optimizer;
    const h = new Float32Array(HYPER.length);
    h[HYPER.lr] = o.lr * (this.opts.schedule?.(step) ?? 1);
    if (o.kind === 'adam') {
      h[HYPER.adamC1] = 1 / (1 - (o.beta1 ?? 0.9) ** (step + 1));
      h[HYPER.adamC2] = 1 / (1 - (o.beta2 ?? 0.999) ** (step + 1));
    }
    h[HYPER.seed] = (step * 2654435761) % 16777213;
    return h;
  }

  /** Queues one training step on a batch (x: batch·C·H·W floats, labels: batch ints). */
  async step(x: Float32Array, labels: Int32Array): Promise<void> {
    this.#alive();
    const { batch } = this.opts;
    const tr = this.#train;
    if (x.length !== tr.x.size) throw new Error(`deepfried: step() x has ${x.length} values, the compiled batch needs ${tr.x.size}`);
    if (labels.length !== batch) throw new Error(`deepfried: step() has ${labels.length} labels for a batch of ${batch}`);
    checkBatch('step()', x, labels, tr.classes);
    const q = this.rt.device.queue;
    q.writeBuffer(tr.x.buffer, 0, x.buffer, x.byteOffset, x.byteLength);
    q.writeBuffer(tr.labels.buffer, 0, labels.buffer, labels.byteOffset, labels.byteLength);
    q.writeBuffer(this.hyper.buffer, 0, this.#hyperFor(this.#step).buffer as ArrayBuffer);
    tr.graph.submit();
    this.#step++;
    this.#sinceStats++;
    this.#inFlight.push(q.onSubmittedWorkDone());
    while (this.#inFlight.length > (this.opts.maxInFlight ?? 2)) await this.#inFlight.shift();
    this.rt.check();
  }

  /** Mean loss and accuracy over the steps since the last call (reads two floats back). */
  async stats(): Promise<StepStats> {
    this.#alive();
    const steps = this.#sinceStats;
    this.#sinceStats = 0;
    const [loss, correct] = await readAndClear(this.rt, this.#train.acc);
    return { steps, loss: steps ? loss / steps : NaN, accuracy: steps ? correct / (steps * this.opts.batch) : NaN };
  }

  /** Test loss and error over a whole dataset, in batches of `batch` (plus one for the remainder). */
  async evaluate(ds: Dataset, batch = 500): Promise<EvalResult> {
    this.#alive();
    const size = ds.images.length / ds.count;
    const run = async (n: number, start: number) => {
      let f = this.#evals.get(n);
      if (!f) {
        const b = buildForward(this.rt, this.model, n, false, this.hyper);
        f = { graph: await b.g.compile(), x: b.x, labels: b.labels, acc: b.acc, classes: b.classes };
        this.#evals.set(n, f);
      }
      const q = this.rt.device.queue;
      q.writeBuffer(f.x.buffer, 0, ds.images.buffer, ds.images.byteOffset + start * size * 4, n * size * 4);
      q.writeBuffer(f.labels.buffer, 0, ds.labels.buffer, ds.labels.byteOffset + start * 4, n * 4);
      f.graph.submit();
      return f;
    };
    const used = new Set<Forward>();
    let loss = 0, correct = 0, start = 0;
    for (; start + batch <= ds.count; start += batch) used.add(await run(batch, start));
    const tail = ds.count - start;
    for (const f of used) {
      const [l, c] = await readAndClear(this.rt, f.acc);
      loss += l * batch; correct += c;
    }
    if (tail > 0) {
      const [l, c] = await readAndClear(this.rt, (await run(tail, start)).acc);
      loss += l * tail; correct += c;
    }
    return { loss: loss / ds.count, error: 1 - correct / ds.count, count: ds.count };
  }

  #alive(): void {
    if (this.#destroyed) throw new Error('deepfried: this trainer was destroyed');
    this.rt.check();
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const f of [this.#train, ...this.#evals.values()]) {
      f.graph.destroy();
      for (const t of [f.x, f.labels, ...f.acc]) t.dispose();
    }
    for (const s of this.#state.values()) for (const t of s) t.dispose();
    this.hyper.dispose();
  }
}

/** A non-finite input or a label outside [0, classes) would turn the step's gradients (and then
 * every parameter) into NaN without a word: name it before anything is written. */
function checkBatch(what: string, x: Float32Array, labels: Int32Array, classes: number): void {
  checkFinite(x, `${what} x`);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (l < 0 || l >= classes) throw new Error(`deepfried: ${what} label ${l} at index ${i} is outside [0, ${classes})`);
  }
}

/** Copies small accumulators to a staging buffer, zeroes them in the same submit, and reads them. */
async function readAndClear(rt: GpuRuntime, acc: Tensor[]): Promise<[number, number]> {
  const staging = rt.createBuffer({ label: 'deepfried stats', size: 4 * acc.length, usage: 0x1 | 0x8 });
  try {
    const enc = rt.device.createCommandEncoder({ label: 'deepfried stats' });
    acc.forEach((t, i) => { enc.copyBufferToBuffer(t.buffer, 0, staging, 4 * i, 4); enc.clearBuffer(t.buffer); });
    rt.device.queue.submit([enc.finish()]);
    await staging.mapAsync(1);
    const f = new Float32Array(staging.getMappedRange());
    const v: [number, number] = [f[0]!, f[1]!];
    staging.unmap();
    return v;
  } finally {
    staging.destroy();
    rt.check();
  }
}

export function compileTrainer(rt: GpuRuntime, model: Sequential, opts: TrainerOptions): Promise<Trainer> {
  return Trainer.compile(rt, model, opts);
}
