// The functional API of DESIGN.md §3: a thin layer over src/ops.
import { GpuRuntime, type RuntimeOptions, type Tensor } from './gpu/runtime.js';
import * as ops from './ops/index.js';
import type {
  Conv2dOptions, ConvGrads, FastfoodGrads, FastfoodParams, FwhtOptions, LinearGrads, PoolOptions,
} from './ops/types.js';

export class Runtime extends GpuRuntime {
  static async create(opts: RuntimeOptions = {}): Promise<Runtime> {
    const a = await GpuRuntime.acquire(opts);
    const rt = new Runtime(a.device, a.info, a.owns, a.keepAlive);
    await rt.verifySubgroups();
    return rt;
  }

  fwht(x: Tensor, opts?: FwhtOptions): Promise<Tensor> { return ops.fwht(this, x, opts); }
  fastfood(x: Tensor, p: FastfoodParams): Promise<Tensor> { return ops.fastfood(this, x, p); }
  fastfoodBackward(x: Tensor, p: FastfoodParams, dy: Tensor): Promise<FastfoodGrads> { return ops.fastfoodBackward(this, x, p, dy); }

  conv2d(x: Tensor, w: Tensor, b: Tensor | null, opts?: Conv2dOptions): Promise<Tensor> { return ops.conv2d(this, x, w, b, opts); }
  conv2dBackward(x: Tensor, w: Tensor, dy: Tensor, opts?: Conv2dOptions): Promise<ConvGrads> { return ops.conv2dBackward(this, x, w, dy, opts); }
  maxPool2d(x: Tensor, opts: PoolOptions): Promise<Tensor> { return ops.maxPool2d(this, x, opts); }
  maxPool2dBackward(x: Tensor, dy: Tensor, opts: PoolOptions): Promise<Tensor> { return ops.maxPool2dBackward(this, x, dy, opts); }
  avgPool2d(x: Tensor, opts: PoolOptions): Promise<Tensor> { return ops.avgPool2d(this, x, opts); }
  avgPool2dBackward(x: Tensor, dy: Tensor, opts: PoolOptions): Promise<Tensor> { return ops.avgPool2dBackward(this, x, dy, opts); }
  linear(x: Tensor, w: Tensor, b: Tensor | null): Promise<Tensor> { return ops.linear(this, x, w, b); }
  linearBackward(x: Tensor, w: Tensor, dy: Tensor): Promise<LinearGrads> { return ops.linearBackward(this, x, w, dy); }
  relu(x: Tensor): Promise<Tensor> { return ops.relu(this, x); }
  reluBackward(x: Tensor, dy: Tensor): Promise<Tensor> { return ops.reluBackward(this, x, dy); }
  softmaxCrossEntropy(logits: Tensor, labels: Tensor): Promise<Tensor> { return ops.softmaxCrossEntropy(this, logits, labels); }
  softmaxCrossEntropyBackward(logits: Tensor, labels: Tensor): Promise<Tensor> { return ops.softmaxCrossEntropyBackward(this, logits, labels); }
}

/** Browser: navigator.gpu; Node: the `webgpu` package (Dawn); `{ device }` shares a caller's GPUDevice. */
export function createRuntime(opts: RuntimeOptions = {}): Promise<Runtime> {
  return Runtime.create(opts);
}
