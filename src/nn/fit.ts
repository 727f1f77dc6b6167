// The training loop shared by the CLI (Node), the headless-Chrome runner and the demo page.
import { type Dataset, fillBatch, seeded, shuffled } from '../data/mnist.js';
import type { GpuRuntime } from '../gpu/runtime.js';
import { loadSafetensors, toSafetensors } from './safetensors.js';
import type { Sequential } from './model.js';
import { compileTrainer, invSchedule, type OptimizerConfig, type Trainer } from './trainer.js';

/** Options of fit(); see FIT_DEFAULTS for the defaults. */
export interface FitOptions {
  /** Passes over the training set. */
  epochs: number;
  /** Images per step; a last partial batch of an epoch is left out. */
  batch: number;
  /** Base learning rate (SGD: times Caffe's "inv" schedule, invSchedule()). */
  lr: number;
  /** 'sgd': SGD with momentum and the inv schedule; 'adam': Adam at a constant rate. */
  optimizer: 'sgd' | 'adam';
  /** SGD's momentum (unused by Adam). */
  momentum: number;
  /** L2 weight decay λ of the parameters with Param.decay (weights; not biases or Fastfood diagonals). */
  weightDecay: number;
  /** Shuffling seed (the order of every epoch). */
  seed: number;
  /** Report training loss/accuracy every this many steps. */
  logEvery: number;
  /** Evaluate on the test set after each epoch (the last epoch is always evaluated). */
  evalEachEpoch: boolean;
}

/** fit()'s defaults: Caffe's LeNet solver (SGD, lr 0.01, momentum 0.9, weight decay 5e-4, batch
 * 64), one epoch. */
export const FIT_DEFAULTS: FitOptions = {
  epochs: 1, batch: 64, lr: 0.01, optimizer: 'sgd', momentum: 0.9,
  weightDecay: 5e-4, seed: 1, logEvery: 20, evalEachEpoch: true,
};

/** What fit() reports through FitIO.onEvent, in order: start, progress (every logEvery steps) and
 * eval (after each evaluated epoch), done. */
export type FitEvent =
  | {
    /** Training is about to begin. */
    kind: 'start';
    /** The model's name. */
    model: string;
    /** Its parameter count. */
    params: number;
    /** Steps of the whole run: epochs × ⌊trainImages / batch⌋. */
    steps: number;
    /** Images in the training set. */
    trainImages: number;
    /** The GPU adapter: vendor, architecture and description. */
    adapter: string;
    /** Steps already done (a resumed checkpoint's), 0 on a fresh run. */
    firstStep: number;
  }
  | {
    /** Training figures, every logEvery steps and at the last step. */
    kind: 'progress';
    /** The current epoch, 1-based. */
    epoch: number;
    /** Steps done so far (a resumed run's included). */
    step: number;
    /** Steps of the whole run. */
    steps: number;
    /** Images trained on so far: step × batch. */
    images: number;
    /** Mean training loss of the steps since the last progress event. */
    loss: number;
    /** Their fraction of correctly classified training images. */
    accuracy: number;
    /** Training throughput of this run so far (evaluation time excluded). */
    imagesPerSecond: number;
    /** Wall time since training began. */
    seconds: number;
  }
  | {
    /** A test-set evaluation after an epoch. */
    kind: 'eval';
    /** Epochs completed. */
    epoch: number;
    /** Fraction of test images misclassified (0…1). */
    testError: number;
    /** Mean test loss. */
    testLoss: number;
  }
  | {
    /** The run finished (after the last checkpoint was saved). */
    kind: 'done';
    /** What fit() returns. */
    result: FitResult;
  };

/** The outcome of a fit() run. */
export interface FitResult {
  /** The model's name. */
  model: string;
  /** Its parameter count. */
  params: number;
  /** Epochs trained, counting a resumed checkpoint's (fractional if stopped mid-epoch). */
  epochs: number;
  /** Images in the training set. */
  trainImages: number;
  /** Fraction of test images misclassified at the end (0…1). */
  testError: number;
  /** Mean test loss at the end. */
  testLoss: number;
  /** Wall time of the whole run (training and evaluation). */
  seconds: number;
  /** Training throughput (evaluation time excluded). */
  imagesPerSecond: number;
  /** The GPU adapter: vendor, architecture and description. */
  adapter: string;
  /** Test error after each evaluated epoch of this run. */
  history: {
    /** Epochs completed. */
    epoch: number;
    /** Fraction of test images misclassified (0…1). */
    testError: number;
  }[];
}

export function checkFitOptions(o: FitOptions): void {
  for (const k of ['epochs', 'batch', 'logEvery'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`deepfried: --${k} must be a positive integer, got ${o[k]}`);
  }
  if (!(o.lr > 0) || !Number.isFinite(o.lr)) throw new Error(`deepfried: --lr must be a positive number, got ${o.lr}`);
  if (o.optimizer !== 'sgd' && o.optimizer !== 'adam') throw new Error(`deepfried: --optimizer must be sgd or adam, got ${o.optimizer}`);
}

/** fit()'s input and output besides the data: events, checkpoints, stopping. */
export interface FitIO {
  /** Receives every FitEvent as it happens. */
  onEvent?(e: FitEvent): void;
  /** A safetensors checkpoint (with optimizer state) to resume from. */
  resume?: Uint8Array;
  /** A sink for checkpoints (safetensors, with optimizer state): after every epoch and at the end; awaited. */
  save?(checkpoint: Uint8Array): Promise<void>;
  /** Polled between steps; returning true stops after the current step. */
  shouldStop?(): boolean;
}

/**
 * Trains an initialised model on `train` (its images must have the model's input shape), with
 * progress events, a test evaluation after each epoch and checkpoints through `io`. The model is
 * the caller's (trained in place, not disposed).
 */
export async function fit(rt: GpuRuntime, model: Sequential, train: Dataset, test: Dataset, options: Partial<FitOptions> = {}, io: FitIO = {}): Promise<FitResult> {
  const opts: FitOptions = { ...FIT_DEFAULTS, ...options };
  checkFitOptions(opts);
  const emit = io.onEvent ?? (() => {});
  const perImage = model.inputShape.reduce((a, b) => a * b, 1);
  for (const [what, ds] of [['train', train], ['test', test]] as const) {
    if (ds.images.length !== ds.count * perImage) {
      throw new Error(`deepfried: fit: the ${what} images hold ${ds.images.length / ds.count} values each, the model's input shape [${model.inputShape}] needs ${perImage}`);
    }
  }
  const optimizer: OptimizerConfig = opts.optimizer === 'sgd'
    ? { kind: 'sgd', lr: opts.lr, momentum: opts.momentum, weightDecay: opts.weightDecay }
    : { kind: 'adam', lr: opts.lr, weightDecay: opts.weightDecay };
  let trainer: Trainer | undefined;
  try {
    trainer = await compileTrainer(rt, model, { batch: opts.batch, optimizer, schedule: opts.optimizer === 'sgd' ? invSchedule() : undefined });
    const stepsPerEpoch = Math.floor(train.count / opts.batch);
    if (stepsPerEpoch < 1) throw new Error(`deepfried: ${train.count} training images are fewer than one batch of ${opts.batch}`);
    const firstStep = io.resume ? loadSafetensors(model, io.resume, { trainer }) : 0;
    const total = stepsPerEpoch * opts.epochs;
    const adapter = `${rt.adapterInfo.vendor} ${rt.adapterInfo.architecture} ${rt.adapterInfo.description}`.trim();
    emit({ kind: 'start', model: model.name, params: model.parameterCount, steps: total, trainImages: train.count, adapter, firstStep });
    const x = new Float32Array(opts.batch * perImage), y = new Int32Array(opts.batch);
    const t0 = performance.now();
    let pending: Promise<unknown> | undefined;
    const history: { epoch: number; testError: number }[] = [];
    let last = { testError: NaN, testLoss: NaN };
    let step = firstStep, trained = 0, evalSeconds = 0;
    const trainSeconds = () => (performance.now() - t0) / 1000 - evalSeconds;
    while (step < total && !io.shouldStop?.()) {
      const epoch = Math.floor(step / stepsPerEpoch);
      const order = shuffled(train.count, seeded(opts.seed * 1000003 + epoch));
      for (let s = step % stepsPerEpoch; s < stepsPerEpoch && !io.shouldStop?.(); s++) {
        fillBatch(train, order, s * opts.batch, x, y);
        await trainer.step(x, y);
        step++; trained++;
        if (step % opts.logEvery === 0 || step === total) {
          await pending; // the previous report's readback: by now long finished, so no stall
          const seconds = (performance.now() - t0) / 1000;
          const ips = (trained * opts.batch) / trainSeconds();
          const at = step;
          const tr = trainer;
          pending = tr.stats().then(async (st) => {
            if (!Number.isFinite(st.loss)) {
              const bad = st.firstNonFinite ?? at - st.steps + 1;
              // that step's batch again (the same epoch shuffle), to find the layer that went non-finite
              const e = Math.floor((bad - 1) / stepsPerEpoch), bx = new Float32Array(x.length), by = new Int32Array(y.length);
              fillBatch(train, shuffled(train.count, seeded(opts.seed * 1000003 + e)), ((bad - 1) % stepsPerEpoch) * opts.batch, bx, by);
              const where = await tr.diagnose(bx).catch((err: Error) => `(diagnosis failed: ${err.message})`);
              throw new Error(`deepfried: training diverged at step ${bad}: the first step whose loss is not finite (the mean loss of steps ` +
                `${at - st.steps + 1}–${at} is ${st.loss}; lr ${opts.lr}, try a lower --lr). ${where}`);
            }
            emit({
              kind: 'progress', epoch: epoch + 1, step: at, steps: total, images: at * opts.batch, loss: st.loss, accuracy: st.accuracy,
              imagesPerSecond: ips, seconds,
            });
          });
          pending.catch(() => {}); // handled where it is awaited, not an unhandled rejection meanwhile
        }
      }
      await pending;
      const epochDone = step % stepsPerEpoch === 0;
      if (epochDone && (opts.evalEachEpoch || step === total)) {
        const te = performance.now();
        const r = await trainer.evaluate(test);
        evalSeconds += (performance.now() - te) / 1000;
        last = { testError: r.error, testLoss: r.loss };
        history.push({ epoch: step / stepsPerEpoch, testError: r.error });
        emit({ kind: 'eval', epoch: step / stepsPerEpoch, testError: r.error, testLoss: r.loss });
      }
      // a checkpoint after every epoch, so that a long run can resume where it stopped
      if (epochDone && io.save && step < total) await io.save(await toSafetensors(model, { trainer }));
    }
    if (Number.isNaN(last.testError)) {
      const r = await trainer.evaluate(test);
      last = { testError: r.error, testLoss: r.loss };
    }
    const seconds = (performance.now() - t0) / 1000;
    if (io.save) await io.save(await toSafetensors(model, { trainer }));
    const result: FitResult = {
      model: model.name, params: model.parameterCount, epochs: step / stepsPerEpoch, trainImages: train.count,
      testError: last.testError, testLoss: last.testLoss, seconds, imagesPerSecond: (trained * opts.batch) / trainSeconds(), adapter, history,
    };
    emit({ kind: 'done', result });
    return result;
  } finally {
    trainer?.destroy();
  }
}
