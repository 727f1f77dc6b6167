// Sequential models and the paper's MNIST nets (Yang et al., Table 1).
import { checkShape, Tensor, type GpuRuntime } from '../gpu/runtime.js';
import { seeded } from '../util/random.js';
import { buildForward, compileForward, destroyCompiled, type Compiled } from './forward.js';
import { AvgPool2d, Conv2d, Dropout, Fastfood, Flatten, Layer, Linear, MaxPool2d, ReLU, type LayerConfig, type Param } from './layers.js';

/** A Sequential model as plain JSON: its name, input shape (without the batch) and layers. */
export interface ModelConfig {
  /** The model's name (Sequential.name). */
  name: string;
  /** Shape of one input, without the batch: [1, 28, 28] for MNIST. */
  inputShape: number[];
  /** The layers in order, each as its toConfig() JSON. */
  layers: LayerConfig[];
}

/** Rows per submit of predict(): larger inputs run as chunks of this many plus a remainder. */
const PREDICT_BATCH = 256;

/** Layers applied in order to inputs [N, ...inputShape]; the last one's output is the logits
 * [N, classes]. Construction checks every layer's shape; init(rt) creates the parameters. */
export class Sequential {
  #initialised = false;
  #rt: GpuRuntime | null = null;
  #predict = new Map<number, Compiled>();
  constructor(
    /** The layers, in order. */
    readonly layers: Layer[],
    /** Shape of one input, without the batch: [C, H, W] for images. */
    readonly inputShape: readonly number[],
    /** Name used in messages and saved in checkpoints (default 'sequential'). */
    readonly name = 'sequential',
  ) {
    if (!Array.isArray(layers) || !layers.every((l) => l instanceof Layer)) throw new Error('deepfried: Sequential takes an array of layers');
    checkShape(inputShape, 'Sequential inputShape');
    this.outShape(1); // every layer's shape is checked here, not at the first batch
  }

  /** The architecture as plain JSON (no parameters): Sequential.fromConfig(config) rebuilds it. */
  toConfig(): ModelConfig {
    return { name: this.name, inputShape: [...this.inputShape], layers: this.layers.map((l) => l.toConfig()) };
  }

  /** Rebuilds a model from toConfig()'s JSON; call init(rt) (or load a checkpoint) for its parameters. */
  static fromConfig(config: ModelConfig): Sequential {
    if (!config || typeof config !== 'object' || !Array.isArray(config.layers)) throw new Error('deepfried: Sequential.fromConfig: config must be { name, inputShape, layers: [...] }');
    return new Sequential(config.layers.map(layerFromConfig), config.inputShape, config.name ?? 'sequential');
  }

  /** Output shape for a batch of `n`; checks every layer's shape on the way. */
  outShape(n: number): number[] {
    return this.layers.reduce<number[]>((s, l) => l.outShape(s), [n, ...this.inputShape]);
  }

  /** Creates the parameters on a runtime (deterministic for a seed). */
  init(rt: GpuRuntime, seed = 1): this {
    if (this.#initialised) throw new Error(`deepfried: model ${this.name} is already initialised`);
    this.#rt = rt;
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

  /** Every parameter and buffer, named `<layer index>.<kind>.<name>`. */
  get params(): Param[] {
    if (!this.#initialised) throw new Error(`deepfried: model ${this.name} has no parameters yet: call init(rt) first`);
    return this.layers.flatMap((l) => l.params);
  }

  /** Number of parameters (learned or fixed; permutations excluded), as the paper counts them. */
  get parameterCount(): number {
    return this.params.filter((p) => p.kind === 'param').reduce((a, p) => a + p.value.size, 0);
  }

  /**
   * Logits [N, classes] for inputs x [N, ...inputShape], returned at once (the work is queued, like
   * an op's). Runs a compiled inference graph (dropout off), cached per batch size: chunks of up
   * to 256 rows and one for the remainder.
   */
  predict(x: Tensor): Tensor {
    const rt = this.#rt;
    if (!rt || !this.#initialised) throw new Error(`deepfried: model ${this.name} has no parameters yet: call init(rt) first`);
    if (!(x instanceof Tensor)) throw new Error('deepfried: predict: x must be a tensor');
    if (x.rt !== rt) throw new Error('deepfried: predict: x belongs to another runtime than the model\'s parameters');
    if (x.disposed) throw new Error('deepfried: predict: x was used after dispose()');
    if (x.dtype !== 'f32') throw new Error(`deepfried: predict: x must be f32, got ${x.dtype}`);
    const want = [x.shape[0]!, ...this.inputShape];
    if (x.shape.length !== want.length || x.shape.some((s, i) => s !== want[i])) {
      throw new Error(`deepfried: predict: x must have shape [N, ${this.inputShape}], got [${x.shape}]`);
    }
    const n = x.shape[0]!, per = x.size / n;
    const chunk = Math.min(n, PREDICT_BATCH);
    const src = x.buffer;
    const graphs = [...new Set([chunk, n % chunk || chunk])].map((b) => this.#predictGraph(rt, b));
    const out = rt.empty([n, graphs[0]!.classes], 'f32', 'predict logits');
    const dst = out.buffer, classes = graphs[0]!.classes;
    for (let start = 0; start < n; start += chunk) {
      const b = Math.min(chunk, n - start);
      const f = b === chunk ? graphs[0]! : graphs[1]!;
      const xin = f.x.buffer, logits = f.graph.bufferOf(f.logits as never);
      rt.enqueueEncoder('predict input', (enc) => enc.copyBufferToBuffer(src, 4 * start * per, xin, 0, 4 * b * per));
      f.graph.enqueue();
      rt.enqueueEncoder('predict output', (enc) => enc.copyBufferToBuffer(logits, 0, dst, 4 * start * classes, 4 * b * classes));
    }
    return out;
  }

  #predictGraph(rt: GpuRuntime, batch: number): Compiled {
    let f = this.#predict.get(batch);
    if (!f) {
      f = compileForward(buildForward(rt, this, batch, { train: false, loss: false }));
      this.#predict.set(batch, f);
    }
    return f;
  }

  /** Frees the parameters and the compiled inference graphs. */
  dispose(): void {
    for (const f of this.#predict.values()) destroyCompiled(f);
    this.#predict.clear();
    for (const l of this.layers) for (const p of l.params) p.value.dispose();
  }
}

const pairOf = (v: unknown, what: string): [number, number] => {
  if (!Array.isArray(v) || v.length !== 2) throw new Error(`deepfried: layer config: ${what} must be [h, w], got ${JSON.stringify(v)}`);
  return [v[0], v[1]];
};

/** Rebuilds a layer from its toConfig() JSON. */
export function layerFromConfig(c: LayerConfig): Layer {
  switch (c?.kind) {
    case 'Conv2d': return new Conv2d(c.inChannels, c.outChannels, pairOf(c.kernel, 'kernel'), { stride: pairOf(c.stride, 'stride'), padding: pairOf(c.padding, 'padding') });
    case 'MaxPool2d': return new MaxPool2d(pairOf(c.kernel, 'kernel'), { stride: pairOf(c.stride, 'stride'), padding: pairOf(c.padding, 'padding') });
    case 'AvgPool2d': return new AvgPool2d(pairOf(c.kernel, 'kernel'), { stride: pairOf(c.stride, 'stride'), padding: pairOf(c.padding, 'padding') });
    case 'ReLU': return new ReLU();
    case 'Flatten': return new Flatten();
    case 'Dropout': return new Dropout(c.p);
    case 'Linear': return new Linear(c.inFeatures, c.outFeatures);
    case 'Fastfood':
    case 'AdaptiveFastfood':
      return new Fastfood(c.inFeatures, c.outFeatures, { adaptive: c.kind === 'AdaptiveFastfood', d: c.d, ...(c.sigma !== undefined ? { sigma: c.sigma } : {}) });
    default:
      throw new Error(`deepfried: layer config: unknown kind ${JSON.stringify((c as { kind?: unknown })?.kind)} (Conv2d, MaxPool2d, AvgPool2d, ReLU, Flatten, Dropout, Linear, Fastfood, AdaptiveFastfood)`);
  }
}

/** The names mnistModel() takes: the paper's reference LeNet and its (adaptive) Fastfood variants
 * with 1024 or 2048 Fastfood features. */
export const MNIST_MODELS = ['reference', 'fastfood-1024', 'adaptive-fastfood-1024', 'fastfood-2048', 'adaptive-fastfood-2048'] as const;
/** One of MNIST_MODELS. */
export type MnistModelName = (typeof MNIST_MODELS)[number];

/** Options of mnistModel(). */
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
