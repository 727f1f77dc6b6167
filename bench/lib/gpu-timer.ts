// GPU time of whatever a runtime submits, by timestamp queries on every compute pass.
//
// The runtime has a hook for this (rt.passTimer, src/gpu/submit.ts PassTimer): while it is set,
// every batch the eager queue submits asks the factory for a timer, encodes each dispatch in a
// compute pass of its own with the timer's timestampWrites, and calls resolve(encoder) after the
// last pass, right before it finishes and submits the encoder. The timer resolves its queries into
// a MAP_READ staging buffer there; the mapping starts one microtask later, once the batch is
// submitted (a buffer must not be pending a map when a command buffer that uses it is submitted),
// and collect() sums end − begin over every pass of every batch since the last reset().
//
// Only the eager queue's dispatches are timed: work queued as commands of its own (compiled
// graphs, i.e. trainer steps; copies; clears) is not.
import type { GpuRuntime } from '../../src/gpu/runtime.js';
import type { PassTimer } from '../../src/gpu/submit.js';

/** Passes one batch can time; a batch with more passes reports NaN (no GPU time for it). */
const MAX_PASSES = 256;

/** Installs the timer on rt (only if the device has 'timestamp-query'); returns null otherwise. */
export function installGpuTimer(rt: GpuRuntime): GpuTimer | null {
  if (!rt.hasTimestamps) return null;
  return new GpuTimer(rt);
}

export class GpuTimer {
  /** Nanoseconds of each submitted batch since the last reset()/collect() (NaN: not all timed). */
  #pending: Promise<number>[] = [];
  /** Query sets handed out to a batch whose resolve() has not come (yet). Factory and resolve()
   * run in one synchronous stretch of the runtime's submit, so at any await an entry here is a
   * batch whose encoding failed: its query set is destroyed at the next reset()/collect(). */
  #open = new Set<GPUQuerySet>();
  #broken: string | null = null;

  constructor(readonly rt: GpuRuntime) {
    rt.passTimer = () => this.#batchTimer();
  }

  #batchTimer(): PassTimer {
    const rt = this.rt, device = rt.device;
    let querySet: GPUQuerySet | null = null;
    let passes = 0, overflow = false;
    return {
      next: (): GPUComputePassTimestampWrites | undefined => {
        if (this.#broken) return undefined;
        if (passes >= MAX_PASSES) { overflow = true; return undefined; }
        if (!querySet) {
          querySet = device.createQuerySet({ label: 'bench timestamps', type: 'timestamp', count: 2 * MAX_PASSES });
          this.#open.add(querySet);
        }
        const p = passes++;
        return { querySet, beginningOfPassWriteIndex: 2 * p, endOfPassWriteIndex: 2 * p + 1 };
      },
      resolve: (encoder: GPUCommandEncoder): void => {
        const qs = querySet;
        if (!qs || !passes) return;
        this.#open.delete(qs);
        const bytes = 16 * passes, count = passes, over = overflow;
        const resolved = rt.createBuffer({ label: 'bench timestamps', size: bytes, usage: 0x200 /* QUERY_RESOLVE */ | 0x4 /* COPY_SRC */ });
        const staging = rt.createBuffer({ label: 'bench timestamps staging', size: bytes, usage: 0x1 /* MAP_READ */ | 0x8 /* COPY_DST */ });
        encoder.resolveQuerySet(qs, 0, 2 * count, resolved, 0);
        encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
        // The runtime submits the encoder synchronously after this returns: map from the next microtask.
        this.#pending.push(Promise.resolve().then(() => staging.mapAsync(1 /* GPUMapMode.READ */)).then(() => {
          const t = new BigUint64Array(staging.getMappedRange().slice(0));
          staging.unmap();
          if (over) return NaN;
          let ns = 0;
          for (let p = 0; p < count; p++) ns += Number(t[2 * p + 1]! - t[2 * p]!);
          return ns;
        }).finally(() => { staging.destroy(); resolved.destroy(); qs.destroy(); }));
      },
    };
  }

  #dropOpen(): void {
    for (const q of this.#open) q.destroy();
    this.#open.clear();
  }

  /** Forgets what was recorded so far. */
  async reset(): Promise<void> {
    const all = this.#pending;
    this.#pending = [];
    await Promise.allSettled(all);
    this.#dropOpen();
  }

  /** GPU milliseconds of everything submitted since the last reset()/collect() (call after
   * rt.sync(); NaN where a batch had more passes than one query set holds). */
  async collect(): Promise<number> {
    const all = this.#pending;
    this.#pending = [];
    const ns = await Promise.all(all);
    this.#dropOpen();
    return ns.reduce((a, b) => a + b, 0) / 1e6;
  }

  /** Turns the timer off (e.g. when its timestamps are not sane) without uninstalling it: batches
   * are then encoded as one pass each, as without a timer. */
  disable(why: string): void {
    this.#broken = why;
    if (this.rt.passTimer) this.rt.passTimer = null;
  }
  get disabled(): string | null { return this.#broken; }

  /** Takes the hook off the runtime. */
  uninstall(): void { this.rt.passTimer = null; }
}
