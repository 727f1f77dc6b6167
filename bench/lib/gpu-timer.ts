// GPU time of whatever a runtime submits, by timestamp queries on every compute pass.
//
// The ops record through rt.run(label, record) with a Recorder, whose compute pass takes no
// timestampWrites. Rather than change the shared runtime, the timer wraps rt.run on this one runtime
// instance: the op's record callback gets a stand-in recorder that opens its own passes (with
// timestampWrites) on the same encoder, and the query results are resolved into a buffer before
// rt.run finishes the encoder. Uniforms still go to the real recorder, so rt.run frees them as usual.
import type { GpuRuntime, Prepared, Recorder, Tensor } from '../../src/gpu/runtime.js';

const MAX_PASSES = 256;

class TimedRecorder {
  #pass: GPUComputePassEncoder | null = null;
  passes = 0;
  constructor(readonly real: Recorder, readonly querySet: GPUQuerySet) {}
  get rt(): GpuRuntime { return this.real.rt; }
  get encoder(): GPUCommandEncoder { return this.real.encoder; }
  get uniforms(): GPUBuffer[] { return this.real.uniforms; }
  dispatch(prep: Prepared, buffers: readonly (GPUBuffer | Tensor)[], params: readonly number[], workgroups: number): void {
    const u = this.rt.uniform(prep.kernel, params);
    this.real.uniforms.push(u);
    const bg = this.rt.bindGroup(prep, u, buffers);
    if (!this.#pass) {
      const timestampWrites = this.passes < MAX_PASSES
        ? { querySet: this.querySet, beginningOfPassWriteIndex: 2 * this.passes, endOfPassWriteIndex: 2 * this.passes + 1 }
        : undefined;
      if (timestampWrites) this.passes++;
      this.#pass = this.encoder.beginComputePass({ label: 'deepfried (timed)', timestampWrites });
    }
    this.#pass.setPipeline(prep.pipeline);
    this.#pass.setBindGroup(0, bg);
    this.#pass.dispatchWorkgroups(...this.rt.grid(workgroups));
  }
  endPass(): void {
    this.#pass?.end();
    this.#pass = null;
  }
}

/** Installs the timer on rt (only if the device has 'timestamp-query'); returns null otherwise. */
export function installGpuTimer(rt: GpuRuntime): GpuTimer | null {
  if (!rt.hasTimestamps) return null;
  return new GpuTimer(rt);
}

export class GpuTimer {
  #pending: Promise<number>[] = [];
  #broken: string | null = null;
  constructor(readonly rt: GpuRuntime) {
    const original = rt.run.bind(rt);
    const device = rt.device;
    rt.run = async (label: string, record: (r: Recorder) => void): Promise<void> => {
      if (this.#broken) return original(label, record);
      const querySet = device.createQuerySet({ label: 'bench timestamps', type: 'timestamp', count: 2 * MAX_PASSES });
      let timed: TimedRecorder | null = null;
      let resolve: GPUBuffer | null = null, staging: GPUBuffer | null = null;
      try {
        await original(label, (real) => {
          timed = new TimedRecorder(real, querySet);
          record(timed as unknown as Recorder);
          timed.endPass();
          if (timed.passes) {
            const bytes = 16 * timed.passes;
            resolve = device.createBuffer({ label: 'bench timestamps', size: bytes, usage: 0x200 /* QUERY_RESOLVE */ | 0x4 /* COPY_SRC */ });
            staging = device.createBuffer({ label: 'bench timestamps staging', size: bytes, usage: 0x1 /* MAP_READ */ | 0x8 /* COPY_DST */ });
            real.encoder.resolveQuerySet(querySet, 0, 2 * timed.passes, resolve, 0);
            real.encoder.copyBufferToBuffer(resolve, 0, staging, 0, bytes);
          }
        });
      } catch (e) {
        querySet.destroy();
        (resolve as GPUBuffer | null)?.destroy();
        (staging as GPUBuffer | null)?.destroy();
        throw e;
      }
      const passes = (timed as TimedRecorder | null)?.passes ?? 0;
      const st = staging as GPUBuffer | null, rs = resolve as GPUBuffer | null;
      if (!st || !passes) { querySet.destroy(); return; }
      this.#pending.push(st.mapAsync(1 /* READ */).then(() => {
        const t = new BigUint64Array(st.getMappedRange().slice(0));
        let ns = 0;
        for (let p = 0; p < passes; p++) ns += Number(t[2 * p + 1]! - t[2 * p]!);
        st.unmap();
        return ns;
      }).finally(() => { st.destroy(); rs?.destroy(); querySet.destroy(); }));
    };
  }

  /** Forgets what was recorded so far. */
  async reset(): Promise<void> {
    await Promise.allSettled(this.#pending);
    this.#pending = [];
  }

  /** GPU milliseconds of everything submitted since the last reset()/collect(). */
  async collect(): Promise<number> {
    const all = this.#pending;
    this.#pending = [];
    const ns = await Promise.all(all);
    return ns.reduce((a, b) => a + b, 0) / 1e6;
  }

  /** Turns the timer off (e.g. when its timestamps are not sane) without uninstalling it. */
  disable(why: string): void { this.#broken = why; }
  get disabled(): string | null { return this.#broken; }
}
