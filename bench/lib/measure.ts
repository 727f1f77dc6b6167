// Timing one call: warm up (pipelines compile), then repeat within a budget. Our ops end each
// repetition with a queue sync (wall clock) and, where the device has timestamps, are also timed on
// the GPU. Fast calls are batched several to a repetition. A call may return its result at once
// (an eager op: its work is queued) or a promise (a trainer step); either is awaited.
import type { GpuRuntime } from '../../src/gpu/runtime.js';
import type { GpuTimer } from './gpu-timer.js';
import { innerCalls, now, repsFor, stat, type Budget } from './stats.js';
import type { Stat } from './types.js';

export interface Timed { wallMs: Stat; gpuMs?: Stat }

/** Disposes whatever an op returned: a tensor, an object of tensors, or nothing. */
export function disposeAll(r: unknown): void {
  if (!r || typeof r !== 'object') return;
  if (typeof (r as { dispose?: unknown }).dispose === 'function') { (r as { dispose(): void }).dispose(); return; }
  for (const v of Object.values(r)) disposeAll(v);
}

export async function measureOurs(rt: GpuRuntime, timer: GpuTimer | null, budget: Budget, call: () => unknown): Promise<Timed> {
  await timer?.reset();
  const t0 = now();
  disposeAll(await call());
  await rt.sync();
  const warm = now() - t0;
  // Very slow calls (dense at d = 16384 on a CPU driver): the warm-up is the one measurement, unless
  // its GPU time shows that the wall time was mostly pipeline compilation (SwiftShader can take
  // tens of seconds to compile a large kernel); then time normally.
  let est = warm;
  if (warm > 3 * budget.slowMs) {
    const gpu = timer && !timer.disabled ? await timer.collect() : 0;
    if (!(gpu > 0) || gpu > warm / 2) return { wallMs: stat([warm]), ...(gpu > 0 ? { gpuMs: stat([gpu]) } : {}) };
    est = gpu;
  }
  // A second warm-up when the first was cheap: the first one includes pipeline compilation.
  if (budget.secondWarmup && warm < budget.slowMs / 4) {
    const t1 = now();
    disposeAll(await call());
    await rt.sync();
    est = now() - t1;
  }
  const inner = innerCalls(est, budget);
  const reps = repsFor(est * inner, budget);
  await timer?.reset();
  const wall: number[] = [], gpu: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = now();
    const outs: unknown[] = [];
    for (let i = 0; i < inner; i++) outs.push(await call());
    await rt.sync();
    wall.push((now() - t) / inner);
    for (const o of outs) disposeAll(o);
    if (timer && !timer.disabled) gpu.push((await timer.collect()) / inner);
  }
  const res: Timed = { wallMs: stat(wall) };
  if (gpu.length && gpu.every((g) => g > 0)) res.gpuMs = stat(gpu);
  return res;
}

/** The peer (tfjs): wall clock only, each repetition ending in `sync`. */
export async function measurePeer(budget: Budget, call: () => unknown, sync: () => Promise<void>, dispose: (r: unknown) => void): Promise<Stat> {
  const t0 = now();
  const w0 = call();
  await sync();
  dispose(w0);
  const warm = now() - t0;
  // Never the warm-up itself as the figure: it includes tfjs's pipeline compilation (there is no
  // GPU timer on this side to tell how much), which would flatter our ratio.
  let est = warm;
  if (budget.secondWarmup && warm < budget.slowMs / 4) {
    const t1 = now();
    const w1 = call();
    await sync();
    est = now() - t1;
    dispose(w1);
  }
  const inner = innerCalls(est, budget);
  const reps = repsFor(est * inner, budget);
  const wall: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = now();
    const outs: unknown[] = [];
    for (let i = 0; i < inner; i++) outs.push(call());
    await sync();
    wall.push((now() - t) / inner);
    for (const o of outs) dispose(o);
  }
  return stat(wall);
}

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);
