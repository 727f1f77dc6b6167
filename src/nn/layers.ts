// Layers: each declares its parameters and compiles itself into the training graph, returning a
// node whose backward emits the gradient dispatches. Shapes include the batch dimension.
import type { GraphBuilder, GraphValue } from '../graph/graph.js';
import type { GpuRuntime, Tensor, TensorRef } from '../gpu/runtime.js';
import { conv2dShape, encodeConv2d, encodeConv2dBackward } from '../ops/conv2d.js';
import { encodeDropout, encodeRelu, encodeReluBackward } from '../ops/elementwise.js';
import { encodeFastfood, encodeFastfoodBackward, fastfoodShape } from '../ops/fastfood.js';
import { encodeLinear, encodeLinearBackward, linearShape } from '../ops/linear.js';
import { encodeAvgPool2d, encodeAvgPool2dBackward, encodeMaxPool2d, encodeMaxPool2dBackward, pool2dShape } from '../ops/pool.js';
import { pair, type Pair } from '../ops/types.js';
import { gaussian } from '../util/random.js';

/** A learned tensor (or, with kind 'buffer', fixed state such as a permutation) owned by a layer. */
export interface Param {
  /** Name within its layer: 'weight', 'bias', 'B', 'G', 'S' or 'perm'. */
  name: string;
  /** `<layer index>.<layer kind>.<name>` once the layer is part of a Sequential. */
  path: string;
  /** Shape of the tensor, e.g. [Cout, Cin, kh, kw] for a Conv2d weight. */
  shape: number[];
  /** The tensor itself (f32; u32 for Fastfood's perm), kept by the runtime. */
  value: Tensor;
  /** The optimizer updates it (false for Fastfood's B, G, S when not adaptive, and for perm). */
  trainable: boolean;
  /** Weight decay applies (weights yes, biases and Fastfood diagonals no). */
  decay: boolean;
  /** 'buffer' is saved in checkpoints but not counted as a parameter. */
  kind: 'param' | 'buffer';
  /** The parameter's natural scale c: it trains as if it were c·p′ with p′ of order 1 (an SGD
   * learning-rate multiplier of c², Adam's of c). 1 for ordinary weights. */
  scale: number;
}

/** What Layer.compile() receives: the graph under construction and the kind of step. */
export interface BuildContext {
  /** The graph the layer emits its dispatches into. */
  g: GraphBuilder;
  /** A training graph: layers save what their backward needs (argmax, Fastfood's a3 and a5) and dropout is on. */
  train: boolean;
  /** The gradient value a backward pass must write for a trainable parameter. */
  grad(p: Param): GraphValue;
  /** Per-step hyper-parameters (kernels/optim.wgsl.ts HYPER): the dropout seed lives there (training graphs only). */
  hyper?: Tensor;
}

/** A layer's place in a graph: its output, and how to emit its backward. The first layer's input
 * is the graph's input tensor; every other operand is a graph value. */
export interface Node {
  /** The layer's output (batch first). */
  y: TensorRef;
  /** Emits dx (when needDx) and the parameter gradients. */
  backward(dy: TensorRef, needDx: boolean): TensorRef | null;
}

/** Fills `n` initial weights using `rand` (uniform in [0, 1)). */
export type Init = (n: number, rand: () => number) => Float32Array;

/** A layer as plain JSON (Sequential.toConfig): its kind and constructor options. */
export type LayerConfig =
  | {
    /** A Conv2d layer. */
    kind: 'Conv2d';
    /** Input channels Cin. */
    inChannels: number;
    /** Output channels Cout. */
    outChannels: number;
    /** Kernel size [kh, kw]. */
    kernel: [number, number];
    /** Stride [sh, sw]. */
    stride: [number, number];
    /** Zero padding [ph, pw] on each side. */
    padding: [number, number];
  }
  | {
    /** A pooling layer. */
    kind: 'MaxPool2d' | 'AvgPool2d';
    /** Window size [kh, kw]. */
    kernel: [number, number];
    /** Stride [sh, sw]. */
    stride: [number, number];
    /** Padding [ph, pw] on each side. */
    padding: [number, number];
  }
  | {
    /** A layer without options. */
    kind: 'ReLU' | 'Flatten';
  }
  | {
    /** A Dropout layer. */
    kind: 'Dropout';
    /** Probability of dropping an element, in [0, 1). */
    p: number;
  }
  | {
    /** A Linear layer. */
    kind: 'Linear';
    /** Input features. */
    inFeatures: number;
    /** Output features. */
    outFeatures: number;
  }
  | {
    /** A Fastfood layer (fixed B, G, S) or an adaptive one (learned). */
    kind: 'Fastfood' | 'AdaptiveFastfood';
    /** Input features. */
    inFeatures: number;
    /** Output features. */
    outFeatures: number;
    /** Block length: a power of two ≥ inFeatures. */
    d: number;
    /** σ of the initialisation; absent: √inFeatures. */
    sigma?: number;
  };

/** Base class of the layers of a Sequential. A layer of your own implements toConfig, outShape,
 * compile and, if it has parameters, init (creating them with param()). */
export abstract class Layer {
  /** The layer's parameters and buffers, in creation order (empty until init()). */
  readonly params: Param[] = [];
  /** The layer's type name, as in its LayerConfig (e.g. 'Conv2d', 'AdaptiveFastfood'). */
  abstract readonly kind: string;
  /** The layer as plain JSON; layerFromConfig() rebuilds it (without parameters). */
  abstract toConfig(): LayerConfig;
  /** Output shape for an input shape (batch first); throws naming the problem. */
  abstract outShape(inShape: readonly number[]): number[];
  /** Creates the parameter tensors for an input shape. */
  init(_rt: GpuRuntime, _inShape: readonly number[], _rand: () => number): void {}
  /** Emits the forward dispatches for input x into c.g and returns the output with its backward. */
  abstract compile(c: BuildContext, x: TensorRef): Node;

  /** Uploads `data` as a new parameter of the layer and adds it to `params`; `o` defaults to
   * trainable, no decay, kind 'param', scale 1. */
  protected param(rt: GpuRuntime, name: string, shape: number[], data: Float32Array | Uint32Array, o: Partial<Pick<Param, 'trainable' | 'decay' | 'kind' | 'scale'>> = {}): Param {
    const p: Param = { name, path: name, shape, value: rt.keep(rt.tensor(data, shape)), trainable: o.trainable ?? true, decay: o.decay ?? false, kind: o.kind ?? 'param', scale: o.scale ?? 1 };
    this.params.push(p);
    return p;
  }
}

/** Uniform(±sqrt(3/fanIn)): Caffe's "xavier" filler, which the paper's LeNet-style nets use. */
export const xavier = (fanIn: number): Init => (n, rand) => Float32Array.from({ length: n }, () => (2 * rand() - 1) * Math.sqrt(3 / fanIn));

/** 2-D convolution over NCHW: x [N, Cin, H, W] → [N, Cout, Ho, Wo], weight [Cout, Cin, kh, kw],
 * bias [Cout]; Xavier-initialised weights, zero bias. Stride defaults to 1, padding to 0. */
export class Conv2d extends Layer {
  readonly kind = 'Conv2d';
  /** Stride [sh, sw]. */
  readonly stride: [number, number];
  /** Zero padding [ph, pw] on each side. */
  readonly padding: [number, number];
  /** Kernel height. */
  readonly kh: number;
  /** Kernel width. */
  readonly kw: number;
  /** The weight [Cout, Cin, kh, kw] (set by init()). */
  w!: Param;
  /** The bias [Cout] (set by init()). */
  b!: Param;
  constructor(
    /** Input channels Cin. */
    readonly cin: number,
    /** Output channels Cout. */
    readonly cout: number,
    kernel: Pair,
    opts: { stride?: Pair; padding?: Pair } = {},
  ) {
    super();
    [this.kh, this.kw] = pair(kernel, 1, 'Conv2d kernel');
    this.stride = pair(opts.stride, 1, 'Conv2d stride');
    this.padding = pair(opts.padding, 0, 'Conv2d padding');
  }
  /** The options as conv2d takes them. */
  get opts() {
    return {
      /** Stride [sh, sw]. */
      stride: this.stride,
      /** Zero padding [ph, pw]. */
      padding: this.padding,
    };
  }
  toConfig(): LayerConfig {
    return { kind: 'Conv2d', inChannels: this.cin, outChannels: this.cout, kernel: [this.kh, this.kw], stride: this.stride, padding: this.padding };
  }
  outShape(s: readonly number[]): number[] {
    return conv2dShape(s, [this.cout, this.cin, this.kh, this.kw], [this.cout], this.opts);
  }
  override init(rt: GpuRuntime, _s: readonly number[], rand: () => number): void {
    const fanIn = this.cin * this.kh * this.kw;
    this.w = this.param(rt, 'weight', [this.cout, this.cin, this.kh, this.kw], xavier(fanIn)(this.cout * fanIn, rand), { decay: true });
    this.b = this.param(rt, 'bias', [this.cout], new Float32Array(this.cout));
  }
  /** `relu`: the ReLU that follows is applied in the conv kernel's epilogue (see fusedRelu()). */
  compile(c: BuildContext, x: TensorRef, relu = false): Node {
    const y = c.g.value(this.outShape(x.shape), 'f32', relu ? 'conv+relu y' : 'conv y');
    c.g.emit(relu ? 'conv2d+relu' : 'conv2d', (ctx) => encodeConv2d(ctx, x, this.w.value, this.b.value, y, { ...this.opts, relu }));
    return {
      y,
      backward: (dy, needDx) => {
        const dx = needDx ? c.g.value(x.shape, 'f32', 'conv dx') : undefined;
        c.g.emit('conv2d backward', (ctx) => encodeConv2dBackward(ctx, x, this.w.value, dy, { dx, dw: c.grad(this.w), db: c.grad(this.b) }, this.opts));
        return dx ?? null;
      },
    };
  }
}

abstract class Pool2d extends Layer {
  /** Window geometry, resolved (stride defaults to the kernel, padding to 0). */
  readonly opts: {
    /** Window size [kh, kw]. */
    kernel: [number, number];
    /** Stride [sh, sw]. */
    stride: [number, number];
    /** Padding [ph, pw] on each side. */
    padding: [number, number];
  };
  constructor(kernel: Pair, o: { stride?: Pair; padding?: Pair } = {}) {
    super();
    const k = pair(kernel, 1, 'pool kernel');
    this.opts = { kernel: k, stride: o.stride === undefined ? k : pair(o.stride, 1, 'pool stride'), padding: pair(o.padding, 0, 'pool padding') };
  }
  outShape(s: readonly number[]): number[] { return pool2dShape(s, this.opts); }
  toConfig(): LayerConfig { return { kind: this.kind as 'MaxPool2d' | 'AvgPool2d', ...this.opts }; }
}

/** Max pooling over NCHW: x [N, C, H, W] → [N, C, Ho, Wo]; stride defaults to the kernel size. */
export class MaxPool2d extends Pool2d {
  readonly kind = 'MaxPool2d';
  compile(c: BuildContext, x: TensorRef): Node {
    const y = c.g.value(this.outShape(x.shape), 'f32', 'maxpool y');
    const argmax = c.train ? c.g.value(y.shape, 'i32', 'maxpool argmax') : undefined;
    c.g.emit('maxPool2d', (ctx) => encodeMaxPool2d(ctx, x, y, this.opts, argmax));
    return {
      y,
      backward: (dy, needDx) => {
        if (!needDx) return null;
        const dx = c.g.value(x.shape, 'f32', 'maxpool dx');
        c.g.emit('maxPool2d backward', (ctx) => encodeMaxPool2dBackward(ctx, x, dy, dx, this.opts, argmax));
        return dx;
      },
    };
  }
}

/** Average pooling over NCHW: x [N, C, H, W] → [N, C, Ho, Wo]; stride defaults to the kernel size. */
export class AvgPool2d extends Pool2d {
  readonly kind = 'AvgPool2d';
  compile(c: BuildContext, x: TensorRef): Node {
    const y = c.g.value(this.outShape(x.shape), 'f32', 'avgpool y');
    c.g.emit('avgPool2d', (ctx) => encodeAvgPool2d(ctx, x, y, this.opts));
    return {
      y,
      backward: (dy, needDx) => {
        if (!needDx) return null;
        const dx = c.g.value(x.shape, 'f32', 'avgpool dx');
        c.g.emit('avgPool2d backward', (ctx) => encodeAvgPool2dBackward(ctx, dy, dx, this.opts));
        return dx;
      },
    };
  }
}

/** max(x, 0), elementwise. */
export class ReLU extends Layer {
  readonly kind = 'ReLU';
  toConfig(): LayerConfig { return { kind: 'ReLU' }; }
  outShape(s: readonly number[]): number[] { return [...s]; }
  compile(c: BuildContext, x: TensorRef): Node {
    const y = c.g.value(x.shape, 'f32', 'relu y');
    c.g.emit('relu', () => encodeRelu(x, y));
    return this.compileFused(c, y);
  }
  /** The node of a ReLU whose output y = max(x, 0) exists: emitted by compile(), or by the layer
   * before it in its epilogue (fusedRelu(); then no forward dispatch). The backward masks with y,
   * which is > 0 exactly where x is. */
  compileFused(c: BuildContext, y: TensorRef): Node {
    return {
      y,
      backward: (dy, needDx) => {
        if (!needDx) return null;
        const dx = c.g.value(y.shape, 'f32', 'relu dx');
        c.g.emit('relu backward', () => encodeReluBackward(y, dy, dx));
        return dx;
      },
    };
  }
}

/** Whether layers[i] and the ReLU at layers[i + 1] compile as one kernel (a conv or matmul with a
 * ReLU epilogue): one dispatch and one activation less per pair in every graph; exact (the same
 * f32 result). Only deepfried's own Linear and Conv2d (a subclass may compile differently). */
export function fusedRelu(layers: readonly Layer[], i: number): boolean {
  const l = layers[i], next = layers[i + 1];
  return next instanceof ReLU && (l?.constructor === Linear || l?.constructor === Conv2d);
}

/** Collapses every dimension after the batch. */
export class Flatten extends Layer {
  readonly kind = 'Flatten';
  toConfig(): LayerConfig { return { kind: 'Flatten' }; }
  outShape(s: readonly number[]): number[] { return [s[0]!, s.slice(1).reduce((a, b) => a * b, 1)]; }
  compile(c: BuildContext, x: TensorRef): Node {
    const y = c.g.reshape(x, this.outShape(x.shape));
    return { y, backward: (dy, needDx) => (needDx ? c.g.reshape(dy, x.shape) : null) };
  }
}

/** Inverted dropout with a fresh mask per step (a hash of the step seed and the element index). */
export class Dropout extends Layer {
  readonly kind = 'Dropout';
  constructor(
    /** Probability of dropping an element, in [0, 1); 0 is the identity. */
    readonly p: number,
  ) {
    super();
    if (!(p >= 0 && p < 1)) throw new Error(`deepfried: Dropout p must be in [0, 1), got ${p}`);
  }
  toConfig(): LayerConfig { return { kind: 'Dropout', p: this.p }; }
  outShape(s: readonly number[]): number[] { return [...s]; }
  compile(c: BuildContext, x: TensorRef): Node {
    if (!c.train || this.p === 0) return { y: x, backward: (dy, needDx) => (needDx ? dy : null) };
    const hyper = c.hyper;
    if (!hyper) throw new Error('deepfried: Dropout: a training graph needs the step\'s hyper-parameter tensor');
    const run = (src: TensorRef, dst: TensorRef) => c.g.emit('dropout', () => encodeDropout(hyper, src, dst, this.p));
    const y = c.g.value(x.shape, 'f32', 'dropout y');
    run(x, y);
    return {
      y,
      backward: (dy, needDx) => {
        if (!needDx) return null;
        const dx = c.g.value(x.shape, 'f32', 'dropout dx');
        run(dy, dx);
        return dx;
      },
    };
  }
}

/** Fully connected: x [N, in] → x·wᵀ + b [N, out], weight [out, in], bias [out]; Xavier-initialised
 * weights, zero bias. */
export class Linear extends Layer {
  readonly kind = 'Linear';
  /** The weight [out, in] (set by init()). */
  w!: Param;
  /** The bias [out] (set by init()). */
  b!: Param;
  constructor(
    /** Input features. */
    readonly inFeatures: number,
    /** Output features. */
    readonly outFeatures: number,
  ) { super(); }
  toConfig(): LayerConfig { return { kind: 'Linear', inFeatures: this.inFeatures, outFeatures: this.outFeatures }; }
  outShape(s: readonly number[]): number[] { return linearShape(s, [this.outFeatures, this.inFeatures], [this.outFeatures]); }
  override init(rt: GpuRuntime, _s: readonly number[], rand: () => number): void {
    this.w = this.param(rt, 'weight', [this.outFeatures, this.inFeatures], xavier(this.inFeatures)(this.outFeatures * this.inFeatures, rand), { decay: true });
    this.b = this.param(rt, 'bias', [this.outFeatures], new Float32Array(this.outFeatures));
  }
  /** `relu`: the ReLU that follows is applied in the matmul's epilogue (see fusedRelu()). */
  compile(c: BuildContext, x: TensorRef, relu = false): Node {
    const y = c.g.value(this.outShape(x.shape), 'f32', relu ? 'linear+relu y' : 'linear y');
    c.g.emit(relu ? 'linear+relu' : 'linear', (ctx) => encodeLinear(ctx, x, this.w.value, this.b.value, y, { relu }));
    return {
      y,
      backward: (dy, needDx) => {
        const dx = needDx ? c.g.value(x.shape, 'f32', 'linear dx') : undefined;
        c.g.emit('linear backward', (ctx) => encodeLinearBackward(ctx, x, this.w.value, dy, { dx, dw: c.grad(this.w), db: c.grad(this.b) }));
        return dx ?? null;
      },
    };
  }
}

/** The Fastfood row length for inFeatures: the next power of two (at least 2). */
const paddedLength = (inFeatures: number): number => 2 ** Math.ceil(Math.log2(Math.max(inFeatures, 2)));

/** Host arrays of the paper's Fastfood initialisation (DESIGN.md §4; Le et al.), for the functional
 * `rt.fastfood` as for the layer: B ∈ {±1}, G ~ N(0, 1), Π a uniform random permutation per block,
 * S_i = ‖s_i‖ / ‖G_k‖ with ‖s_i‖ ~ χ_d, times 1/(σ√d) (σ defaults to √inFeatures). Each array is
 * [blocks, d] flattened, d = the next power of two ≥ inFeatures unless given; `sigma` is the σ used. */
export function fastfoodInit(inFeatures: number, outFeatures: number, rand: () => number, opts: { d?: number; sigma?: number } = {}): {
  /** Block length (a power of two). */
  d: number;
  /** Number of blocks: ceil(outFeatures / d). */
  blocks: number;
  /** The σ used. */
  sigma: number;
  /** Random signs ±1, [blocks, d]. */
  B: Float32Array;
  /** Gaussian diagonal N(0, 1), [blocks, d]. */
  G: Float32Array;
  /** Scaling diagonal, [blocks, d]. */
  S: Float32Array;
  /** Permutation of 0..d−1 per block, [blocks, d]. */
  perm: Uint32Array;
} {
  for (const [what, v] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`deepfried: fastfoodInit: ${what} must be a positive integer, got ${v}`);
  }
  const d = opts.d ?? paddedLength(inFeatures);
  if (!Number.isInteger(d) || d < 2 || (d & (d - 1)) !== 0 || d < inFeatures) throw new Error(`deepfried: fastfoodInit: d must be a power of two ≥ 2 and ≥ inFeatures = ${inFeatures}, got ${d}`);
  const sigma = opts.sigma ?? Math.sqrt(inFeatures);
  if (!(sigma > 0) || !Number.isFinite(sigma)) throw new Error(`deepfried: fastfoodInit: sigma must be a positive number, got ${sigma}`);
  const blocks = Math.ceil(outFeatures / d), n = blocks * d;
  const B = Float32Array.from({ length: n }, () => (rand() < 0.5 ? -1 : 1));
  const G = gaussian(n, rand);
  const S = new Float32Array(n);
  const perm = new Uint32Array(n);
  for (let k = 0; k < blocks; k++) {
    let g2 = 0;
    for (let i = 0; i < d; i++) g2 += G[k * d + i]! ** 2;
    for (let i = 0; i < d; i++) {
      let chi2 = 0; // ‖s_i‖² ~ χ²_d: the squared norm of a d-dimensional standard Gaussian
      const z = gaussian(d, rand);
      for (const v of z) chi2 += v * v;
      S[k * d + i] = Math.sqrt(chi2) / Math.sqrt(g2) / (sigma * Math.sqrt(d));
    }
    const p = Uint32Array.from({ length: d }, (_, i) => i);
    for (let i = d - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [p[i], p[j]] = [p[j]!, p[i]!]; }
    perm.set(p, k * d);
  }
  return { d, blocks, sigma, B, G, S, perm };
}

/**
 * Fastfood (Le et al.; Yang et al. §3): y = S·H·G·Π·H·B·x per d-sized block, blocks stacked
 * until outFeatures, x zero-padded to d. Initialisation: B ∈ {±1}, G ~ N(0,1), Π a random
 * permutation, S_i = ‖s_i‖/‖G‖_F with ‖s_i‖ ~ χ_d, times 1/(σ√d). σ defaults to √inFeatures,
 * which gives each output the variance of a Xavier-initialised dense layer.
 * Adaptive: B, G, S are learned; plain Fastfood keeps them fixed. S trains as c·S′ with
 * c = 1/(σ√d) (Param.scale): its gradient Σ g⊙a5 carries a factor √d·‖x‖ that would otherwise
 * blow S up in the first SGD step.
 */
export class Fastfood extends Layer {
  /** 'AdaptiveFastfood' or 'Fastfood'. */
  readonly kind: string;
  /** Block length: the next power of two ≥ inFeatures (at least 2) unless opts.d. */
  readonly d: number;
  /** Number of stacked blocks: ceil(outFeatures / d). */
  readonly blocks: number;
  /** Random signs ±1, [blocks, d] (set by init()). */
  B!: Param;
  /** Gaussian diagonal, [blocks, d] (set by init()). */
  G!: Param;
  /** Scaling diagonal, [blocks, d] (set by init()). */
  S!: Param;
  /** Permutation per block, u32 [blocks, d]: a buffer, never trained (set by init()). */
  perm!: Param;
  constructor(
    /** Input features. */
    readonly inFeatures: number,
    /** Output features. */
    readonly outFeatures: number,
    /** Constructor options, as given. */
    readonly opts: {
      /** Learn B, G and S (default false: they stay fixed). */
      adaptive?: boolean;
      /** Block length, a power of two ≥ inFeatures (default: the next one). */
      d?: number;
      /** σ of the initialisation (default √inFeatures). */
      sigma?: number;
    } = {},
  ) {
    super();
    this.kind = opts.adaptive ? 'AdaptiveFastfood' : 'Fastfood';
    this.d = opts.d ?? paddedLength(inFeatures);
    this.blocks = Math.ceil(outFeatures / this.d);
  }
  /** B, G and S are learned. */
  get adaptive(): boolean { return Boolean(this.opts.adaptive); }
  toConfig(): LayerConfig {
    return { kind: this.adaptive ? 'AdaptiveFastfood' : 'Fastfood', inFeatures: this.inFeatures, outFeatures: this.outFeatures, d: this.d,
      ...(this.opts.sigma !== undefined ? { sigma: this.opts.sigma } : {}) };
  }
  outShape(s: readonly number[]): number[] {
    const f = fastfoodShape(s, { blocks: this.blocks, d: this.d, inFeatures: this.inFeatures, outFeatures: this.outFeatures });
    return [f.n, f.outFeatures];
  }
  override init(rt: GpuRuntime, _s: readonly number[], rand: () => number): void {
    const { d, blocks } = this;
    const { B, G, S, perm, sigma } = fastfoodInit(this.inFeatures, this.outFeatures, rand, { d, sigma: this.opts.sigma });
    const trainable = this.adaptive;
    this.B = this.param(rt, 'B', [blocks, d], B, { trainable });
    this.G = this.param(rt, 'G', [blocks, d], G, { trainable });
    this.S = this.param(rt, 'S', [blocks, d], S, { trainable, scale: 1 / (sigma * Math.sqrt(d)) });
    this.perm = this.param(rt, 'perm', [blocks, d], perm, { trainable: false, kind: 'buffer' });
  }
  /** The parameters as encodeFastfood and rt.fastfood take them (after init()). */
  get ffParams() {
    return {
      /** Random signs, [blocks, d]. */
      B: this.B.value,
      /** Gaussian diagonal, [blocks, d]. */
      G: this.G.value,
      /** Scaling diagonal, [blocks, d]. */
      S: this.S.value,
      /** Permutation per block, u32 [blocks, d]. */
      perm: this.perm.value,
      /** Output features. */
      outFeatures: this.outFeatures,
    };
  }
  compile(c: BuildContext, x: TensorRef): Node {
    const y = c.g.value(this.outShape(x.shape), 'f32', 'fastfood y');
    const N = x.shape[0]!;
    const saved = c.train ? { a3: c.g.value([N, this.blocks, this.d], 'f32', 'fastfood a3'), a5: c.g.value([N, this.blocks, this.d], 'f32', 'fastfood a5') } : undefined;
    c.g.emit('fastfood', (ctx) => encodeFastfood(ctx, x, this.ffParams, y, saved));
    return {
      y,
      backward: (dy, needDx) => {
        const dx = needDx ? c.g.value(x.shape, 'f32', 'fastfood dx') : undefined;
        if (!dx && !this.adaptive) return null;
        const grad = (p: Param) => (this.adaptive ? c.grad(p) : c.g.value(p.shape, 'f32', 'unused grad'));
        c.g.emit('fastfood backward', (ctx) => encodeFastfoodBackward(ctx, x, this.ffParams, dy, saved!, { dx, dB: grad(this.B), dG: grad(this.G), dS: grad(this.S) }));
        return dx ?? null;
      },
    };
  }
}
