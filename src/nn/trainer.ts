// Compiles a model into a static training step (forward, loss, backward, optimizer) and an
// inference step, and drives them: one writeBuffer for the batch, one submit per step, and
// loss/accuracy read back through staging buffers only when asked.
import { HYPER } from '../../kernels/optim.wgsl.js';
import type { Dataset } from '../data/mnist.js';
import type { GraphValue } from '../graph/graph.js';
import { type GpuRuntime, type Tensor, type TensorRef } from '../gpu/runtime.js';
import { encodeAdam, encodeSgd } from '../ops/optim.js';
import { overTuning, type Tuning, type TuningOptions } from '../gpu/tuning.js';
import { autotuneTrainer, type AutotuneResult } from './autotune.js';
import { buildForward, compileForward, destroyCompiled, readAndClear, type Compiled } from './forward.js';
import type { Param } from './layers.js';
import type { Sequential } from './model.js';

/** The optimizer of a trainer: SGD with momentum (Caffe/PyTorch form) or Adam. */
export type OptimizerConfig =
  | {
    /** SGD with momentum. */
    kind: 'sgd';
    /** Base learning rate (times the schedule's multiplier). */
    lr: number;
    /** Momentum μ (default 0.9). */
    momentum?: number;
    /** L2 weight decay λ (λ·w added to the gradient) of the parameters with Param.decay; default 0. */
    weightDecay?: number;
  }
  | {
    /** Adam. */
    kind: 'adam';
    /** Base learning rate (times the schedule's multiplier). */
    lr: number;
    /** First-moment decay β1 (default 0.9). */
    beta1?: number;
    /** Second-moment decay β2 (default 0.999). */
    beta2?: number;
    /** ε of the denominator (default 1e-8). */
    eps?: number;
    /** L2 weight decay λ (λ·w added to the gradient) of the parameters with Param.decay; default 0. */
    weightDecay?: number;
  };

/** Learning-rate multiplier per step. */
export type Schedule = (step: number) => number;
/** Caffe's "inv" policy, used by its LeNet solver: (1 + γ·t)^(−p). */
export const invSchedule = (gamma = 1e-4, power = 0.75): Schedule => (t) => (1 + gamma * t) ** -power;

/** Options of compileTrainer(). */
export interface TrainerOptions {
  /** Images per step (the compiled batch size). */
  batch: number;
  /** The optimizer and its hyperparameters. */
  optimizer: OptimizerConfig;
  /** Learning-rate multiplier per step (default: constant 1). */
  schedule?: Schedule;
  /** Steps that may be queued on the GPU before step() waits (default 2). */
  maxInFlight?: number;
  /** Kernel choices for this trainer's graphs, over the runtime's (rt.tuning). On a runtime made
   * with `{ autotune: true }`, leaving this out lets the autotuner choose (src/nn/autotune.ts). */
  tuning?: TuningOptions;
}

/** Training figures since the last Trainer.stats() call. */
export interface StepStats {
  /** Steps since the last stats() call, which these figures cover. */
  steps: number;
  /** Their mean loss (NaN or ±Infinity once a step's loss was not finite). */
  loss: number;
  /** Their fraction of correctly classified training images. */
  accuracy: number;
  /** The first of them (1-based, counting every step this trainer ran) whose loss was not finite;
   * null if none. Such a step changes no parameter and no optimizer state (its updates are skipped
   * on the GPU, as PyTorch's GradScaler skips a step with non-finite gradients). */
  firstNonFinite: number | null;
}
/** Result of Trainer.evaluate(). */
export interface EvalResult {
  /** Mean loss per image. */
  loss: number;
  /** Fraction of images misclassified (0…1). */
  error: number;
  /** Images evaluated. */
  count: number;
}

/**
 * A model compiled into a static training step (forward, loss, backward, optimizer) for one batch
 * size, plus inference steps for evaluation. Make one with compileTrainer(); destroy() frees it.
 */
export class Trainer {
  /** f32 [HYPER.length]: the per-step hyperparameters the kernels read (learning rate, Adam's bias
   * corrections, dropout seed, step number, skip flag), written before each step. */
  readonly hyper: Tensor;
  #train!: Compiled;
  #evals = new Map<number, Compiled>();
  #state = new Map<Param, Tensor[]>();
  #inFlight: Promise<void>[] = [];
  #sinceStats = 0;
  #step = 0;
  #destroyed = false;
  /** The kernel choices of this trainer's graphs: rt.tuning with opts.tuning applied. */
  readonly tuning: Tuning;
  /** What the autotuner measured and chose, on a runtime made with `{ autotune: true }`. */
  autotuned: AutotuneResult | undefined;

  private constructor(
    /** The runtime the trainer runs on. */
    readonly rt: GpuRuntime,
    /** The model it trains (in place). */
    readonly model: Sequential,
    /** The options it was compiled with. */
    readonly opts: TrainerOptions,
  ) {
    this.tuning = overTuning(rt.tuning, opts.tuning);
    this.hyper = rt.keep(rt.zeros([HYPER.length]));
  }

  static async compile(rt: GpuRuntime, model: Sequential, opts: TrainerOptions): Promise<Trainer> {
    if (!Number.isInteger(opts.batch) || opts.batch < 1) throw new Error(`deepfried: batch must be a positive integer, got ${opts.batch}`);
    if (!(opts.optimizer.lr > 0)) throw new Error(`deepfried: learning rate must be positive, got ${opts.optimizer.lr}`);
    let autotuned: AutotuneResult | undefined;
    if (rt.autotune && opts.tuning === undefined) {
      autotuned = await autotuneTrainer(rt, model, opts, (o) => Trainer.compile(rt, model, o));
      opts = { ...opts, tuning: autotuned.tuning };
    }
    const t = new Trainer(rt, model, opts);
    t.autotuned = autotuned;
    try {
      t.#compileTrain();
      await t.#train.graph.ready;
    } catch (e) {
      t.destroy();
      throw e;
    }
    return t;
  }

  /** Training steps run so far (including those of a restored checkpoint). */
  get steps(): number { return this.#step; }
  /** Sets the step counter (the learning-rate schedule's position) after loading a checkpoint. */
  restoreStep(step: number): void {
    if (!Number.isInteger(step) || step < 0) throw new Error(`deepfried: bad step ${step}`);
    this.#step = step;
  }
  /** Optimizer state tensors per parameter (momentum; or Adam's m and v). */
  get state(): ReadonlyMap<Param, Tensor[]> { return this.#state; }
  /** Bytes of activation and scratch memory the compiled training step holds. */
  get activationBytes(): number { return this.#train.graph.activationBytes; }
  /** GPU time of one training step, per op and kernel (see CompiledGraph.profile). */
  profile() { return this.#train.graph.profile(); }

  #compileTrain(): void {
    const { rt, model, opts } = this;
    const grads = new Map<Param, GraphValue>();
    const f = buildForward(rt, model, opts.batch, { train: true, hyper: this.hyper, loss: true, grads, tuning: this.tuning });
    let dy: TensorRef = f.dlogits!;
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
      const state = (o.kind === 'sgd' ? [0] : [0, 1]).map(() => rt.keep(rt.zeros(p.shape)));
      this.#state.set(p, state);
      f.g.emit(`${o.kind} ${p.name}`, (ctx) => o.kind === 'sgd'
        ? encodeSgd(this.hyper, grad, p.value, state[0]!, { momentum: o.momentum ?? 0.9, decay, lrMul: p.scale ** 2 }, ctx.limits)
        : encodeAdam(this.hyper, grad, p.value, state[0]!, state[1]!, { beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, eps: o.eps ?? 1e-8, decay, lrMul: p.scale }, ctx.limits));
    }
    this.#train = compileForward(f);
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
    h[HYPER.step] = step + 1; // 1-based, for the loss guard (exact in f32 up to 2^24 steps)
    return h;
  }

  /** Queues one training step on a batch (x: batch·C·H·W floats, labels: batch ints). */
  async step(x: Float32Array, labels: Int32Array): Promise<void> {
    this.#alive();
    const { batch } = this.opts;
    const tr = this.#train;
    if (x.length !== tr.x.size) throw new Error(`deepfried: step() x has ${x.length} values, the compiled batch needs ${tr.x.size}`);
    if (labels.length !== batch) throw new Error(`deepfried: step() has ${labels.length} labels for a batch of ${batch}`);
    checkBatch('step()', labels, tr.classes);
    const rt = this.rt;
    rt.write(tr.x, x, 'step() x'); // checks x is finite before anything is written
    rt.write(tr.labels, labels);
    rt.write(this.hyper, this.#hyperFor(this.#step));
    tr.graph.enqueue();
    this.#step++;
    this.#sinceStats++;
    const done = rt.sync();
    done.catch(() => {}); // rejects where it is awaited (below, or by a later step)
    this.#inFlight.push(done);
    while (this.#inFlight.length > (this.opts.maxInFlight ?? 2)) await this.#inFlight.shift();
    this.rt.check();
  }

  /** Mean loss and accuracy over the steps since the last call (reads two floats back). */
  async stats(): Promise<StepStats> {
    this.#alive();
    const steps = this.#sinceStats;
    this.#sinceStats = 0;
    const [loss, correct, firstBad] = (await readAndClear(this.rt, this.#train.acc)) as [number, number, number];
    const firstNonFinite = firstBad > 0 ? firstBad : null;
    return { steps, loss: steps ? loss / steps : NaN, accuracy: steps ? correct / (steps * this.opts.batch) : NaN, firstNonFinite };
  }

  /**
   * Where non-finite values come from: runs the model's forward on a batch `x` (the trainer's batch
   * size) with the current parameters, keeping every layer's output, and says which layer's output
   * is the first that is not finite, and which parameters hold non-finite values. Returns one
   * sentence (fit() appends it to its divergence error).
   */
  async diagnose(x: Float32Array): Promise<string> {
    this.#alive();
    const { rt, model } = this;
    const badParams: string[] = [];
    for (const p of model.params) {
      if (p.kind === 'buffer') continue;
      const v = await p.value.read();
      let bad = 0;
      for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) bad++;
      if (bad) badParams.push(`${p.path} (${bad} of ${v.length} values)`);
    }
    // unfused: a ReLU epilogue's max(NaN, 0) may be 0, hiding the layer whose output went bad
    const f = buildForward(rt, model, this.opts.batch, { train: false, loss: false, tuning: this.tuning, fuse: false });
    f.g.keep(...f.nodes.map((n) => n.y));
    const c = compileForward(f);
    try {
      await c.graph.ready;
      rt.write(c.x, x, 'diagnose() x');
      c.graph.enqueue();
      let first = '', largest = 0;
      for (let i = 0; i < f.nodes.length && !first; i++) {
        const v = await c.graph.read(f.nodes[i]!.y as GraphValue);
        let bad = 0;
        for (let j = 0; j < v.length; j++) {
          const a = Math.abs(v[j]!);
          if (!Number.isFinite(a)) bad++;
          else if (i === f.nodes.length - 1) largest = Math.max(largest, a);
        }
        if (bad) first = `layer ${i} (${model.layers[i]!.kind}) is the first whose output is not finite (${bad} of ${v.length} values)`;
      }
      const params = badParams.length ? `; parameters not finite: ${badParams.join(', ')}` : '; every parameter is finite';
      return `With the current parameters (a step whose loss is not finite changes none), on that step's batch: ${first || `every layer's output is finite (logits up to ${largest.toExponential(2)}), so the loss itself overflowed`}${params}.`;
    } finally {
      destroyCompiled(c);
    }
  }

  /** Test loss and error over a whole dataset, in batches of `batch` (plus one for the remainder). */
  async evaluate(ds: Dataset, batch = 500): Promise<EvalResult> {
    this.#alive();
    const size = ds.images.length / ds.count;
    const run = async (n: number, start: number) => {
      let f = this.#evals.get(n);
      if (!f) {
        f = compileForward(buildForward(this.rt, this.model, n, { train: false, hyper: this.hyper, loss: true, tuning: this.tuning }));
        this.#evals.set(n, f);
        await f.graph.ready;
      }
      this.rt.write(f.x, ds.images.subarray(start * size, (start + n) * size));
      this.rt.write(f.labels, ds.labels.subarray(start, start + n));
      f.graph.enqueue();
      await this.rt.flush();
      return f;
    };
    const used = new Set<Compiled>();
    let loss = 0, correct = 0, start = 0;
    for (; start + batch <= ds.count; start += batch) used.add(await run(batch, start));
    const tail = ds.count - start;
    for (const f of used) {
      const [l, c] = (await readAndClear(this.rt, f.acc)) as [number, number];
      loss += l * batch; correct += c;
    }
    if (tail > 0) {
      const [l, c] = (await readAndClear(this.rt, (await run(tail, start)).acc)) as [number, number];
      loss += l * tail; correct += c;
    }
    return { loss: loss / ds.count, error: 1 - correct / ds.count, count: ds.count };
  }

  #alive(): void {
    if (this.#destroyed) throw new Error('deepfried: this trainer was destroyed');
    this.rt.check();
  }

  /** Frees the compiled steps, the optimizer state and `hyper` (not the model); later calls throw. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const f of [this.#train, ...this.#evals.values()]) if (f) destroyCompiled(f);
    for (const s of this.#state.values()) for (const t of s) t.dispose();
    this.hyper.dispose();
  }
}

/** A label outside [0, classes) would turn the step's gradients (and then every parameter) into
 * NaN without a word: name it before anything is written (rt.write names a non-finite x). */
function checkBatch(what: string, labels: Int32Array, classes: number): void {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (l < 0 || l >= classes) throw new Error(`deepfried: ${what} label ${l} at index ${i} is outside [0, ${classes})`);
  }
}

/** Compiles `model` (initialised on `rt`) into a Trainer for batches of opts.batch; resolves once
 * the training step's pipelines are ready. */
export function compileTrainer(rt: GpuRuntime, model: Sequential, opts: TrainerOptions): Promise<Trainer> {
  return Trainer.compile(rt, model, opts);
}
