// Sequential models and the paper's MNIST nets (Yang et al., Table 1).
import type { GpuRuntime } from '../gpu/runtime.js';
import { seeded } from '../util/random.js';
import { Conv2d, Dropout, Fastfood, Flatten, Layer, Linear, MaxPool2d, ReLU, type Param } from './layers.js';

export class Sequential {
  #initialised = false;
  constructor(readonly layers: Layer[], readonly inputShape: readonly number[], readonly name = 'sequential') {}

  /** Output shape for a batch of `n`; checks every layer's shape on the way. */
  outShape(n: number): number[] {
    return this.layers.reduce<number[]>((s, l) => l.outShape(s), [n, ...this.inputShape]);
  }

  /** Creates the parameters on a runtime (deterministic for a seed). */
  init(rt: GpuRuntime, seed = 1): this {
    if (this.#initialised) throw new Error(`deepfried: model ${this.name} is already initialised`);
    const rand = seeded(seed);
    let s: number[] = [1, ...this.inputShape];
    this.layers.forEach((l, i) => {
      l.init(rt, s, rand);
      for (const p of l.params) p.path = `${i}.${l.kind}.${p.name}`;
      s = l.outShape(s);
    });
    this.#initialised = true;
    return this;
  }

  /** Every parameter and buffer, named "<layer index>.<kind>.<name>". */
  get params(): Param[] {
    if (!this.#initialised) throw new Error(`deepfried: model ${this.name} has no parameters yet: call init(rt) first`);
    return this.layers.flatMap((l) => l.params);
  }

  /** Number of parameters (learned or fixed; permutations excluded), as the paper counts them. */
  get parameterCount(): number {
    return this.params.filter((p) => p.kind === 'param').reduce((a, p) => a + p.value.size, 0);
  }

  dispose(): void {
    for (const l of this.layers) for (const p of l.params) p.value.dispose();
  }
}

export const MNIST_MODELS = ['reference', 'fastfood-1024', 'adaptive-fastfood-1024', 'fastfood-2048', 'adaptive-fastfood-2048'] as const;
export type MnistModelName = (typeof MNIST_MODELS)[number];

export interface MnistModelOptions {
  /** Dropout on the Fastfood features (after their ReLU, before the classifier); the paper
   * regularises its Fastfood layers with dropout. 0 (the default) leaves it out. */
  dropout?: number;
}

/** conv 20@5×5 → maxpool 2 → conv 50@5×5 → maxpool 2 → 800 features, then the FC part. */
export function mnistModel(name: MnistModelName, opts: MnistModelOptions = {}): Sequential {
  const dropout = opts.dropout ?? 0;
  const features = () => [new Conv2d(1, 20, 5), new MaxPool2d(2), new Conv2d(20, 50, 5), new MaxPool2d(2), new Flatten()];
  let head: Layer[];
  switch (name) {
    case 'reference':
      if (dropout > 0) throw new Error('deepfried: dropout is an option of the Fastfood nets; the reference net (Caffe\'s LeNet) has none');
      head = [new Linear(800, 500), new ReLU(), new Linear(500, 10)];
      break;
    case 'fastfood-1024':
    case 'adaptive-fastfood-1024':
    case 'fastfood-2048':
    case 'adaptive-fastfood-2048': {
      const out = name.endsWith('2048') ? 2048 : 1024;
      head = [new Fastfood(800, out, { adaptive: name.startsWith('adaptive'), d: 1024 }), new ReLU(),
        ...(dropout > 0 ? [new Dropout(dropout)] : []), new Linear(out, 10)];
      break;
    }
    default:
      throw new Error(`deepfried: unknown MNIST model "${name as string}" (one of ${MNIST_MODELS.join(', ')})`);
  }
  return new Sequential([...features(), ...head], [1, 28, 28], name);
}
