// The functional API of DESIGN.md §3: a thin layer over src/ops. Every op returns its tensors at
// once; the work is queued on the runtime (see src/gpu/runtime.ts).
import { GpuRuntime, type RuntimeOptions, type Tensor } from './gpu/runtime.js';
import type { TuningOptions } from './gpu/tuning.js';
import * as ops from './ops/index.js';
import type {
  Conv2dOptions, ConvGrads, FastfoodGrads, FastfoodParams, FwhtOptions, LinearGrads, PoolOptions,
} from './ops/types.js';

/** A WebGPU device with deepfried's pipelines, buffer pool and eager op queue. Make one with createRuntime(). */
export class Runtime extends GpuRuntime {
  /** @internal */
  static async create(opts: RuntimeOptions = {}): Promise<Runtime> {
    const a = await GpuRuntime.acquire(opts);
    const rt = new Runtime(a.device, a.info, a.owns, a.keepAlive, opts.tuning);
    rt.autotune = Boolean(opts.autotune);
    await rt.verifySubgroups();
    return rt;
  }

  /** @internal A runtime on a caller's device, made at once (no await) for frameworks whose kernels
   * are synchronous (deepfried/tfjs). Subgroup kernels stay off: they need createRuntime()'s probe. */
  static adopt(device: GPUDevice, tuning?: TuningOptions): Runtime {
    const rt = new Runtime(device, device.adapterInfo, false, undefined, tuning);
    rt.noSubgroups();
    return rt;
  }

  /** y = scale·H·x along the last axis (a power of two). */
  fwht(x: Tensor, opts?: FwhtOptions): Tensor { return ops.fwht(this, x, opts); }
  /** y = Fastfood(x) (DESIGN.md §3): x [N, inFeatures] → [N, outFeatures]. */
  fastfood(x: Tensor, p: FastfoodParams): Tensor { return ops.fastfood(this, x, p); }
  /** Gradients of fastfood() given the output gradient dy [N, outFeatures]. */
  fastfoodBackward(x: Tensor, p: FastfoodParams, dy: Tensor): FastfoodGrads { return ops.fastfoodBackward(this, x, p, dy); }

  /** NCHW convolution, weights [Cout, Cin, kh, kw]. */
  conv2d(x: Tensor, w: Tensor, b: Tensor | null, opts?: Conv2dOptions): Tensor { return ops.conv2d(this, x, w, b, opts); }
  /** Gradients of conv2d() given the output gradient dy [N, Cout, Ho, Wo]. */
  conv2dBackward(x: Tensor, w: Tensor, dy: Tensor, opts?: Conv2dOptions): ConvGrads { return ops.conv2dBackward(this, x, w, dy, opts); }
  /** Max pooling of x [N, C, H, W] over each window. */
  maxPool2d(x: Tensor, opts: PoolOptions): Tensor { return ops.maxPool2d(this, x, opts); }
  /** Input gradient [N, C, H, W] of maxPool2d(): dy goes to each window's (first) max. */
  maxPool2dBackward(x: Tensor, dy: Tensor, opts: PoolOptions): Tensor { return ops.maxPool2dBackward(this, x, dy, opts); }
  /** Average pooling of x [N, C, H, W] over each window (padded cells left out). */
  avgPool2d(x: Tensor, opts: PoolOptions): Tensor { return ops.avgPool2d(this, x, opts); }
  /** Input gradient [N, C, H, W] of avgPool2d(). */
  avgPool2dBackward(x: Tensor, dy: Tensor, opts: PoolOptions): Tensor { return ops.avgPool2dBackward(this, x, dy, opts); }
  /** y = x·wᵀ + b, x [N, in], w [out, in]. */
  linear(x: Tensor, w: Tensor, b: Tensor | null): Tensor { return ops.linear(this, x, w, b); }
  /** Gradients of linear() given the output gradient dy [N, out]. */
  linearBackward(x: Tensor, w: Tensor, dy: Tensor): LinearGrads { return ops.linearBackward(this, x, w, dy); }
  /** max(x, 0), elementwise. */
  relu(x: Tensor): Tensor { return ops.relu(this, x); }
  /** dy where x > 0, else 0: the input gradient of relu(). */
  reluBackward(x: Tensor, dy: Tensor): Tensor { return ops.reluBackward(this, x, dy); }
  /** Mean loss over the batch (a [1] tensor); labels are i32 [N]. */
  softmaxCrossEntropy(logits: Tensor, labels: Tensor): Tensor { return ops.softmaxCrossEntropy(this, logits, labels); }
  /** Gradient of softmaxCrossEntropy()'s mean loss with respect to the logits: (softmax − one-hot)/N, [N, classes]. */
  softmaxCrossEntropyBackward(logits: Tensor, labels: Tensor): Tensor { return ops.softmaxCrossEntropyBackward(this, logits, labels); }
}

/** Browser: navigator.gpu; Node: the `webgpu` package (Dawn); `{ device }` shares a caller's
 * GPUDevice (never destroyed by us); `{ tuning }` sets this runtime's kernel choices. */
export function createRuntime(opts: RuntimeOptions = {}): Promise<Runtime> {
  return Runtime.create(opts);
}
