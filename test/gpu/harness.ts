// GPU test cases are written once and run both in Node (Dawn) and in headless Chrome.
import { createRuntime, type Runtime } from '../../src/api.js';
import type { Dispatch, EncodeContext } from '../../src/gpu/runtime.js';
import type { TuningOptions } from '../../src/gpu/tuning.js';
import { gaussian, seeded } from '../../src/util/random.js';

export interface GpuCase {
  name: string;
  run(rt: Runtime): Promise<void>;
}

export interface Tolerance { atol: number; rtol: number }

/** Throws naming the first element outside atol + rtol·|expected|. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} != expected ${expected.length}`);
  let worst = -1, worstErr = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    const err = Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (!(err <= 0) && (worst < 0 || !(err <= worstErr))) { worst = i; worstErr = err; }
  }
  if (worst >= 0) {
    throw new Error(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
      `(atol ${tol.atol}, rtol ${tol.rtol}; ${countBad(actual, expected, tol)} of ${actual.length} outside)`);
  }
}

function countBad(a: ArrayLike<number>, e: ArrayLike<number>, t: Tolerance): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i]! - e[i]!) <= t.atol + t.rtol * Math.abs(e[i]!))) n++;
  return n;
}

export function expectEqual(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a}, expected ${e}`);
}

/** Awaits fn and requires it to throw an Error whose message matches. */
export async function expectThrows(fn: () => unknown, pattern: RegExp, what: string): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    if (!pattern.test(m)) throw new Error(`${what}: threw "${m}", expected a message matching ${pattern}`);
    return;
  }
  throw new Error(`${what}: did not throw (expected ${pattern})`);
}

export { seeded as rng } from '../../src/util/random.js';

/** n normal samples of standard deviation `scale`, deterministic for a seed. */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  return gaussian(n, seeded(seed)).map((v) => v * scale);
}

/** Runs `f` on a second runtime sharing rt's device with other kernel choices (Tuning is a
 * runtime's: DESIGN.md §2.11); its tensors are its own, and it is destroyed afterwards. */
export async function withTuning(rt: Runtime, tuning: TuningOptions, f: (rt: Runtime) => Promise<void>): Promise<void> {
  const tuned = await createRuntime({ device: rt.device, tuning });
  try {
    await f(tuned);
  } finally {
    tuned.destroy();
  }
}

/** Queues dispatches built by an op's encoder on caller tensors and waits for them (errors reject). */
export async function runEncoded(rt: Runtime, label: string, build: (ctx: EncodeContext) => Dispatch[]): Promise<void> {
  rt.op(label, () => ({}), (_o, ctx) => build(ctx));
  await rt.sync();
}

/** The device's limits with maxStorageBufferBindingSize lowered to `bytes`: an EncodeContext given
 * these makes ops split their bindings as on a device with a smaller limit. */
export function loweredLimits(rt: Runtime, bytes: number): GPUSupportedLimits {
  const lim: Record<string, number> = {};
  for (const k in rt.limits) lim[k] = (rt.limits as unknown as Record<string, number>)[k]!;
  return { ...lim, maxStorageBufferBindingSize: bytes } as unknown as GPUSupportedLimits;
}
