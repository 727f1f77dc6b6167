// The paper's MNIST nets by name, for the CLI, the table and the pages: fit() on a fresh net.
import type { Runtime } from '../src/api.js';
import type { Dataset } from '../src/data/mnist.js';
import { checkFitOptions, fit, FIT_DEFAULTS, type FitIO, type FitOptions, type FitResult } from '../src/nn/fit.js';
import { MNIST_MODELS, mnistModel, type MnistModelName } from '../src/nn/model.js';

export interface MnistRun extends FitOptions {
  model: MnistModelName;
  /** Dropout on the Fastfood features (MnistModelOptions.dropout). */
  dropout: number;
}

export const MNIST_DEFAULTS: MnistRun = { ...FIT_DEFAULTS, model: 'adaptive-fastfood-1024', dropout: 0 };

export function checkMnistRun(o: MnistRun): void {
  if (!(MNIST_MODELS as readonly string[]).includes(o.model)) throw new Error(`deepfried: unknown model "${o.model}" (one of ${MNIST_MODELS.join(', ')})`);
  if (!(o.dropout >= 0 && o.dropout < 1)) throw new Error(`deepfried: --dropout must be in [0, 1), got ${o.dropout}`);
  checkFitOptions(o);
}

/** Trains a fresh `o.model` (initialised with `o.seed`) and frees it afterwards. */
export async function fitMnist(rt: Runtime, train: Dataset, test: Dataset, o: MnistRun, io: FitIO = {}): Promise<FitResult> {
  checkMnistRun(o);
  const model = mnistModel(o.model, { dropout: o.dropout }).init(rt, o.seed);
  try {
    return await fit(rt, model, train, test, o, io);
  } finally {
    model.dispose();
  }
}
export type { FitEvent, FitResult } from '../src/nn/fit.js';
