/// <reference types="@webgpu/types" preserve="true" />
// deepfried/tfjs: our FWHT and Fastfood kernels as tfjs ops with gradients, and an AdaptiveFastfood
// layer for the tfjs Layers API. The kernels run on @tensorflow/tfjs-backend-webgpu's own GPUDevice
// and on its own buffers (nothing crosses the CPU): a registered kernel wraps the input and output
// buffers of tfjs tensors, submits tfjs's pending commands, then submits ours at once
// (GpuRuntime.submitNow), so the one queue sees both in program order.
//
// tfjs is a peer dependency (@tensorflow/tfjs-core and @tensorflow/tfjs-layers, as installed by
// @tensorflow/tfjs); the main entry point never imports it.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Runtime } from './api.js';
export { provideNavigatorGpu } from './gpu/acquire.js';
import type { Dispatch, EncodeContext, Tensor } from './gpu/runtime.js';
import type { DType } from './gpu/tensor.js';
import { fastfoodInit } from './nn/layers.js';
import { encodeFastfood, encodeFastfoodBackward } from './ops/fastfood.js';
import { encodeFwht } from './ops/fwht.js';
import { seeded } from './util/random.js';

/** The tfjs kernel name of fwht(), registered on the 'webgpu' backend (with its gradient). */
export const FWHT = 'DeepfriedFwht';
/** The tfjs kernel name of fastfood()'s forward, registered on the 'webgpu' backend. */
export const FASTFOOD = 'DeepfriedFastfood';
/** The tfjs kernel name of fastfood()'s backward, registered on the 'webgpu' backend. */
export const FASTFOOD_GRAD = 'DeepfriedFastfoodGrad';

/** What we use of tfjs-backend-webgpu's WebGPUBackend (4.x). */
interface WebGpuBackend {
  device: GPUDevice;
  tensorMap: { get(dataId: object): { resource?: unknown; values?: ArrayLike<number> | null } | undefined };
  commandEncoder: GPUCommandEncoder | null;
  uploadToGPU(dataId: object): void;
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

const runtimes = new WeakMap<GPUDevice, Runtime>();

function webgpuBackend(op: string, backend: unknown): WebGpuBackend {
  const b = backend as Partial<WebGpuBackend>;
  if (!b || !b.device || !b.tensorMap || typeof b.uploadToGPU !== 'function') {
    throw new Error(`deepfried/tfjs: ${op} runs on tfjs's WebGPU backend only (import '@tensorflow/tfjs-backend-webgpu' and ` +
      `await tf.setBackend('webgpu')); the active backend is '${tf.getBackend()}'`);
  }
  return b as WebGpuBackend;
}

/** The deepfried runtime on the backend's device (one per device, made on first use). */
function runtimeOf(b: WebGpuBackend): Runtime {
  let rt = runtimes.get(b.device);
  if (!rt) { rt = Runtime.adopt(b.device); runtimes.set(b.device, rt); }
  return rt;
}

const DTYPES: Partial<Record<tf.DataType, DType>> = { float32: 'f32', int32: 'i32' };

/**
 * Runs our dispatches on tfjs tensors: inputs are uploaded if tfjs still holds them on the CPU,
 * outputs are allocated by tfjs (it owns every buffer), tfjs's recorded commands are submitted
 * first, then ours. Returns the outputs as tfjs TensorInfos.
 */
function run(op: string, backend: unknown, inputs: Record<string, tf.TensorInfo>, outputs: { shape: number[]; dtype: tf.DataType }[],
  build: (ctx: EncodeContext, x: Record<string, Tensor>, out: Tensor[]) => Dispatch[]): tf.TensorInfo[] {
  const b = webgpuBackend(op, backend);
  const rt = runtimeOf(b);
  const wrap = (name: string, t: tf.TensorInfo): Tensor => {
    const dtype = DTYPES[t.dtype];
    if (!dtype) throw new Error(`deepfried/tfjs: ${op}: ${name} must be float32${name === 'perm' ? ' or int32' : ''}, got ${t.dtype}`);
    const buffer = b.tensorMap.get(t.dataId)?.resource;
    if (typeof (buffer as GPUBuffer | undefined)?.usage !== "number") throw new Error(`deepfried/tfjs: ${op}: ${name} is not held in a GPUBuffer (a texture-backed tensor?)`);
    return rt.wrap(buffer as GPUBuffer, t.shape.length ? t.shape : [1], dtype);
  };
  for (const t of Object.values(inputs)) b.uploadToGPU(t.dataId);
  const outs = outputs.map((o) => b.makeTensorInfo(o.shape, o.dtype));
  try {
    for (const o of outs) b.uploadToGPU(o.dataId); // allocates its buffer
    const x = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, wrap(k, t)]));
    const y = outs.map((o, i) => wrap(`output ${i}`, o));
    b.endComputePassEncoder();
    if (b.commandEncoder) b.submitQueue();
    rt.submitNow(op, (ctx) => build(ctx, x, y));
  } catch (e) {
    for (const o of outs) b.disposeData(o.dataId, true);
    throw e;
  }
  return outs;
}

// ------------------------------------------------------------------------------------ FWHT
tf.registerKernel({
  kernelName: FWHT, backendName: 'webgpu',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const x = inputs.x as tf.TensorInfo, scale = (attrs as { scale: number }).scale;
    return run('fwht', backend, { x }, [{ shape: [...x.shape], dtype: 'float32' }], (ctx, i, [y]) => encodeFwht(ctx, i.x!, y!, scale))[0]!;
  },
});
// H is symmetric, so the gradient of y = s·H·x is s·H·dy.
tf.registerGradient({
  kernelName: FWHT,
  gradFunc: (dy, _saved, attrs) => ({ x: () => fwht(dy as tf.Tensor, (attrs as { scale: number }).scale) }),
});

/** y = scale·H·x along the last axis of x (a power of two ≥ 2), on tfjs's WebGPU backend, with its gradient. */
export function fwht<T extends tf.Tensor>(x: T, scale = 1): T {
  if (!(x instanceof tf.Tensor)) throw new Error(`deepfried/tfjs: fwht: x must be a tf.Tensor, got ${typeof x}`);
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new Error(`deepfried/tfjs: fwht: scale must be a finite number, got ${scale}`);
  return tf.engine().runKernel(FWHT, { x }, { scale }) as T;
}

// ------------------------------------------------------------------------------------ Fastfood
interface FastfoodAttrs { outFeatures: number; train: boolean }

tf.registerKernel({
  kernelName: FASTFOOD, backendName: 'webgpu',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, B, G, S, perm } = inputs as Record<'x' | 'B' | 'G' | 'S' | 'perm', tf.TensorInfo>;
    const { outFeatures, train } = attrs as unknown as FastfoodAttrs;
    const [n] = x!.shape as [number];
    const saved = train ? [{ shape: [n, ...B!.shape], dtype: 'float32' as const }, { shape: [n, ...B!.shape], dtype: 'float32' as const }] : [];
    checkPermOnHost(backend, perm!);
    const out = run('fastfood', backend, { x: x!, B: B!, G: G!, S: S!, perm: perm! }, [{ shape: [n, outFeatures], dtype: 'float32' }, ...saved],
      (ctx, i, [y, a3, a5]) => encodeFastfood(ctx, i.x!, { B: i.B!, G: i.G!, S: i.S!, perm: i.perm!, outFeatures }, y!, train ? { a3: a3!, a5: a5! } : undefined));
    return train ? out : out[0]!; // y alone, or [y, a3, a5] for the backward
  },
});

tf.registerKernel({
  kernelName: FASTFOOD_GRAD, backendName: 'webgpu',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const i = inputs as Record<'x' | 'B' | 'G' | 'S' | 'perm' | 'dy' | 'a3' | 'a5', tf.TensorInfo>;
    const { outFeatures } = attrs as unknown as FastfoodAttrs;
    const f32 = (t: tf.TensorInfo) => ({ shape: [...t.shape], dtype: 'float32' as const });
    return run('fastfood backward', backend, i, [f32(i.x), f32(i.B), f32(i.B), f32(i.B)], (ctx, t, [dx, dB, dG, dS]) =>
      encodeFastfoodBackward(ctx, t.x!, { B: t.B!, G: t.G!, S: t.S!, perm: t.perm!, outFeatures }, t.dy!, { a3: t.a3!, a5: t.a5! }, { dx: dx!, dB: dB!, dG: dG!, dS: dS! }));
  },
});

/** Perms checked on the host (by tfjs data id: a write gives a tensor a new one). */
const checkedPerms = new WeakSet<object>();

/** The backward's gathers assume each block of perm is a permutation. Where tfjs still holds the
 * values on the CPU (a perm made by tf.tensor(), a loaded weight before its first use) they are
 * checked; a perm that lives only on the GPU is taken on the caller's word, as by our encoders. */
function checkPermOnHost(backend: unknown, perm: tf.TensorInfo): void {
  if (checkedPerms.has(perm.dataId)) return;
  const values = webgpuBackend('fastfood', backend).tensorMap.get(perm.dataId)?.values;
  if (!values || perm.shape.length !== 2) return;
  const [blocks, d] = perm.shape as [number, number];
  const seen = new Int32Array(d).fill(-1);
  for (let k = 0; k < blocks; k++) {
    for (let j = 0; j < d; j++) {
      const v = values[k * d + j]!;
      if (!(v >= 0 && v < d) || seen[v] === k) {
        throw new Error(`deepfried/tfjs: fastfood: perm is not a permutation: block ${k} has ${seen[v] === k ? 'a repeated' : 'an out-of-range'} entry ${v} at ${j} (each block must permute 0…${d - 1})`);
      }
      seen[v] = k;
    }
  }
  checkedPerms.add(perm.dataId);
}

/** Adaptive Fastfood's parameters as tfjs tensors, each [blocks, d] (DESIGN.md §3, §4). */
export interface FastfoodWeights {
  /** Random signs ±1, float32. */
  B: tf.Tensor;
  /** Gaussian diagonal, float32. */
  G: tf.Tensor;
  /** Scaling diagonal, float32. */
  S: tf.Tensor;
  /** int32: a permutation of 0…d−1 in each block. */
  perm: tf.Tensor;
}

/**
 * y = Fastfood(x) = S·H·G·Π·H·B·x per block of d (x zero-padded from inFeatures to d, blocks stacked
 * and cut to outFeatures): x [N, inFeatures] → [N, outFeatures], on tfjs's WebGPU backend. Gradients
 * flow to x, B, G and S (tf.grad, optimizer.minimize, model.fit); while a gradient tape records, the
 * forward also keeps the two intermediates [N, blocks, d] the backward reads.
 */
export function fastfood(x: tf.Tensor, w: FastfoodWeights, outFeatures: number): tf.Tensor2D {
  for (const [k, v] of Object.entries({ x, B: w?.B, G: w?.G, S: w?.S, perm: w?.perm })) {
    if (!(v instanceof tf.Tensor)) throw new Error(`deepfried/tfjs: fastfood: ${k} must be a tf.Tensor, got ${v === undefined ? 'undefined' : typeof v}`);
  }
  const { B, G, S, perm } = w;
  const engine = tf.engine();
  if (!engine.isTapeOn()) return engine.runKernel(FASTFOOD, { x, B, G, S, perm }, { outFeatures, train: false }) as tf.Tensor2D;
  const f = tf.customGrad((x, B, G, S, save) => {
    const ins = { x: x as tf.Tensor, B: B as tf.Tensor, G: G as tf.Tensor, S: S as tf.Tensor, perm };
    const [y, a3, a5] = engine.runKernel(FASTFOOD, ins, { outFeatures, train: true }) as tf.Tensor[];
    (save as tf.GradSaveFunc)([ins.x, ins.B, ins.G, ins.S, perm, a3!, a5!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [x, B, G, S, perm, a3, a5] = saved;
        return engine.runKernel(FASTFOOD_GRAD, { x: x!, B: B!, G: G!, S: S!, perm: perm!, dy, a3: a3!, a5: a5! }, { outFeatures }) as tf.Tensor[];
      },
    };
  });
  return f(x, B, G, S) as tf.Tensor2D;
}

// ------------------------------------------------------------------------------------ the layer
/** Arguments of the AdaptiveFastfood layer (besides tfjs's own: name, inputShape, trainable, …). */
export interface AdaptiveFastfoodArgs {
  /** Output features (like Dense's units). */
  units: number;
  /** Row length: the next power of two ≥ the input features unless given. */
  d?: number;
  /** σ of the initialisation (√inFeatures unless given: a Xavier-initialised dense layer's output variance). */
  sigma?: number;
  /** Seed of the initialisation (B, G, S and the permutations); random unless given. */
  seed?: number;
  /** false: B, G, S stay fixed (plain Fastfood). Default true. */
  adaptive?: boolean;
  /** The layer's name (tfjs's; generated unless given). */
  name?: string;
  /** Input shape without the batch axis (tfjs's; for a model's first layer). */
  inputShape?: (number | null)[];
  /** Input shape with the batch axis (tfjs's; null: any size). */
  batchInputShape?: (number | null)[];
  /** false: none of the layer's weights train (tfjs's; default true). */
  trainable?: boolean;
}

/**
 * The Adaptive Fastfood layer (Yang et al., "Deep Fried Convnets") for the tfjs Layers API: a drop-in
 * for a Dense layer of `units` outputs with O(units) parameters instead of O(in·units), applied to
 * the last axis. Its weights are B, G, S′ [blocks, d] (trainable) and perm [blocks, d] (int32, fixed);
 * S′ = S·σ√d, so S trains at the scale of deepfried's own layer (src/nn/layers.ts, Fastfood). Saved
 * and loaded by tfjs's own IO (model.save / tf.loadLayersModel) like any registered layer.
 */
export class AdaptiveFastfood extends tfl.layers.Layer {
  /** The name tfjs's serialization registers the class under (in saved models' configs). */
  static className = 'AdaptiveFastfood';
  /** Output features. */
  readonly units: number;
  /** Seed of the initialisation: the given one, or the one drawn at random. */
  readonly seed: number;
  /** Whether B, G and S train. */
  readonly adaptive: boolean;
  /** The constructor's `d` as given (undefined: chosen at build from the input size). */
  readonly dArg: number | undefined;
  /** The constructor's `sigma` as given (undefined: chosen at build from the input size). */
  readonly sigmaArg: number | undefined;
  #scale = 1;
  #B?: tfl.LayerVariable;
  #G?: tfl.LayerVariable;
  #S?: tfl.LayerVariable;
  #perm?: tfl.LayerVariable;

  constructor(args: AdaptiveFastfoodArgs) {
    super(args as unknown as ConstructorParameters<typeof tfl.layers.Layer>[0]);
    const u = args?.units;
    if (!Number.isInteger(u) || u < 1) throw new Error(`deepfried/tfjs: AdaptiveFastfood: units must be a positive integer, got ${u}`);
    this.units = u;
    this.seed = args.seed ?? Math.floor(Math.random() * 2 ** 31);
    if (!Number.isInteger(this.seed)) throw new Error(`deepfried/tfjs: AdaptiveFastfood: seed must be an integer, got ${args.seed}`);
    this.adaptive = args.adaptive ?? true;
    this.dArg = args.d;
    this.sigmaArg = args.sigma;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const inF = shape[shape.length - 1];
    if (!Number.isInteger(inF) || inF! < 1) throw new Error(`deepfried/tfjs: AdaptiveFastfood: the last axis of the input must be known, got shape [${shape}]`);
    const init = fastfoodInit(inF!, this.units, seeded(this.seed), { d: this.dArg, sigma: this.sigmaArg });
    const { d, blocks, sigma } = init;
    this.#scale = 1 / (sigma * Math.sqrt(d));
    const weight = (name: string, values: Float32Array | Int32Array, dtype: 'float32' | 'int32', trainable: boolean) => {
      const v = this.addWeight(name, [blocks, d], dtype, tfl.initializers.zeros(), undefined, trainable);
      v.write(tf.tensor(values, [blocks, d], dtype));
      return v;
    };
    this.#B = weight('B', init.B, 'float32', this.adaptive);
    this.#G = weight('G', init.G, 'float32', this.adaptive);
    this.#S = weight('S', init.S.map((s) => s / this.#scale), 'float32', this.adaptive);
    this.#perm = weight('perm', Int32Array.from(init.perm), 'int32', false);
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    return [...shape.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      if (Array.isArray(inputs) && inputs.length !== 1) throw new Error(`deepfried/tfjs: AdaptiveFastfood takes one input, got ${inputs.length}`);
      const inF = x.shape[x.shape.length - 1]!;
      const rows = tf.reshape(x, [-1, inF]);
      const y = fastfood(rows, { B: this.#B!.read(), G: this.#G!.read(), S: tf.mul(this.#S!.read(), this.#scale), perm: this.#perm!.read() }, this.units);
      return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), this.units]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(), units: this.units, seed: this.seed, adaptive: this.adaptive,
      ...(this.dArg !== undefined ? { d: this.dArg } : {}), ...(this.sigmaArg !== undefined ? { sigma: this.sigmaArg } : {}),
    };
  }
}
tf.serialization.registerClass(AdaptiveFastfood);

/** An AdaptiveFastfood layer, like tf.layers.dense(args). */
export function adaptiveFastfood(args: AdaptiveFastfoodArgs): AdaptiveFastfood {
  return new AdaptiveFastfood(args);
}
