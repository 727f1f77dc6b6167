// Baselines measured next to each op: a short copy and a short FMA loop (the fastest variants of
// the start-of-run sweep) run right before every timed repetition of an op, so each repetition
// has its own "what the machine gives now" and an op's fraction of the limits is the median over
// repetitions of (op rate in that round ÷ baseline rate in that round). This cancels the load
// swings of a shared machine, which move the op and the baselines together.
import { copyKernel, copyWorkgroups, fmaKernel } from '../../kernels/bench.wgsl.js';
import type { KernelInstance } from '../../kernels/common.js';
import type { GpuRuntime, Tensor } from '../../src/gpu/runtime.js';
import type { GpuTimer } from './gpu-timer.js';
import { now } from './stats.js';
import type { Baselines } from './types.js';

export interface ProbeSample { gbps: number; gflops: number; gops: number }

export class Probe {
  private constructor(
    readonly rt: GpuRuntime, readonly timer: GpuTimer | null,
    readonly copy: { kernel: KernelInstance; src: Tensor; dst: Tensor; n: number; wg: number; bytes: number },
    readonly fma: { kernel: KernelInstance; out: Tensor; iters: number; fmas: number },
  ) {}

  /** Short probes of the best copy and FMA variants in `b`: about copyMiB MiB and fmaMs ms each. */
  static async create(rt: GpuRuntime, timer: GpuTimer | null, b: Baselines, copyMiB: number, fmaMs: number): Promise<Probe> {
    const words = (copyMiB * 2 ** 20) / 4, v = b.copy.spec;
    const n = v === 'vec4' ? words / 4 : words;
    const copy = { kernel: copyKernel(v), src: rt.zeros([words]), dst: rt.zeros([words]), n, wg: copyWorkgroups(n), bytes: 2 * words * 4 };
    const fv = b.fma.spec, workgroups = 1024, wgSize = 64;
    // The start-of-run FMA loop ran b.fma.fmas FMAs in b.fma.ms.median ms: scale its length to fmaMs.
    const perIter = workgroups * wgSize * fv.accumulators * fv.width;
    const iters = Math.max(4, Math.round((b.fma.fmas / perIter) * fmaMs / b.fma.ms.median));
    const fma = { kernel: fmaKernel(fv, wgSize), out: rt.empty([workgroups * wgSize]), iters, fmas: perIter * iters };
    await Promise.all([rt.prepare(copy.kernel), rt.prepare(fma.kernel)]);
    return new Probe(rt, timer, copy, fma);
  }

  async #time(run: () => void): Promise<number> {
    await this.timer?.reset();
    const t = now();
    run();
    await this.rt.sync();
    const wall = now() - t;
    const gpu = this.timer && !this.timer.disabled ? await this.timer.collect() : 0;
    return gpu > 0 ? gpu : wall;
  }

  /** One round of baselines (copy, then FMA). Leaves the GPU timer reset. */
  async sample(): Promise<ProbeSample> {
    const c = this.copy, f = this.fma;
    const copyMs = await this.#time(() => this.rt.enqueue('probe copy', [{ kernel: c.kernel, buffers: [c.src, c.dst], params: { n: c.n }, workgroups: c.wg }]));
    const fmaMs = await this.#time(() => this.rt.enqueue('probe fma', [{ kernel: f.kernel, buffers: [f.out], params: { iters: f.iters, m: 0.999, c: 0.001 }, workgroups: 1024 }]));
    await this.timer?.reset();
    const gops = f.fmas / (fmaMs * 1e6);
    return { gbps: c.bytes / (copyMs * 1e6), gflops: 2 * gops, gops };
  }

  dispose(): void {
    this.copy.src.dispose();
    this.copy.dst.dispose();
    this.fma.out.dispose();
  }
}
