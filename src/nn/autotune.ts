// Autotuning per adapter (Burn's idea, carried into the browser). A runtime made with
// `createRuntime({ autotune: true })` lets each trainer choose its kernels: on the first compile of a
// model at a batch size, every candidate kernel choice that applies to the model (conv backward
// direct or GEMM, matmul tiles 8×8 or 16×16, Fastfood fused or multi-pass, pooling 2×2 tiles or the
// general kernel) is first checked against the float64 references on small problems, then timed as
// the whole training step (compile time measured too); the fastest verified choice wins and is
// cached per adapter and model/batch: a JSON file under the user's cache directory in Node
// ($DEEPFRIED_CACHE_DIR, else $XDG_CACHE_HOME/deepfried, else ~/.cache/deepfried), IndexedDB in a
// browser. clearAutotuneCache() empties either.
import { createRuntime, type Runtime } from '../api.js';
import type { GpuRuntime } from '../gpu/runtime.js';
import { overTuning, type TuningOptions } from '../gpu/tuning.js';
import { conv2dBackwardRef, conv2dRef, type ConvGeometry } from '../reference/conv2d.js';
import { fastfoodBackwardRef, fastfoodRef } from '../reference/fastfood.js';
import { linearBackwardRef, linearRef } from '../reference/linear.js';
import { maxPoolBackwardRef, maxPoolRef } from '../reference/pool.js';
import { nodeImport } from '../util/node.js';
import { gaussian, seeded } from '../util/random.js';
import { Conv2d, Fastfood, fastfoodInit, Linear, MaxPool2d } from './layers.js';
import { Sequential } from './model.js';
import type { Trainer, TrainerOptions } from './trainer.js';

/** Bump when kernels change in a way that may change which choice is fastest. */
const CACHE_VERSION = 1;

/** One candidate the autotuner measured. */
export interface AutotuneCandidate {
  /** What it changes from the runtime's tuning ({} is the runtime's own). */
  tuning: TuningOptions;
  /** Whether its kernels matched the float64 references on the small problems (only verified candidates are timed). */
  verified: boolean;
  /** Why it was not verified. */
  error?: string;
  /** Compiling its training step, ms. */
  compileMs?: number;
  /** Median time of one training step, ms. */
  stepMs?: number;
}

/** What the autotuner chose for a model and batch size on an adapter. */
export interface AutotuneResult {
  /** The cache key: adapter, model config, batch size, optimizer kind. */
  key: string;
  /** The kernel choices it picked (applied over the runtime's tuning). */
  tuning: TuningOptions;
  /** Median step with the runtime's own tuning, ms. */
  baselineMs: number;
  /** Median step with the choice, ms. */
  chosenMs: number;
  /** What tuning cost: wall time of verifying, compiling and timing every candidate, ms. */
  costMs: number;
  /** Every candidate: the runtime's own tuning first, then each change tried. */
  candidates: AutotuneCandidate[];
  /** True when this result came from the cache (nothing was measured this time). */
  cached: boolean;
}

/** The kernel choices worth trying for a model: only knobs whose kernels the model uses. */
export function candidatesFor(model: Sequential): TuningOptions[] {
  const has = (k: new (...a: never[]) => unknown) => model.layers.some((l) => l instanceof k);
  const c: TuningOptions[] = [];
  if (has(Conv2d)) c.push({ conv: { backward: 'gemm' } }, { conv: { backward: 'direct' } });
  if (has(Conv2d) || has(Linear)) c.push({ matmul: { maxTile: 8 } }, { matmul: { maxTile: 16 } });
  if (has(Fastfood)) c.push({ fastfood: { path: 'multipass' } });
  if (has(MaxPool2d)) c.push({ pool: { tiles2x2: false } });
  return c;
}

/** Checks a candidate's kernels against the float64 references on small problems (conv2d,
 * linear, Fastfood and max-pool, forward and backward); throws naming the first mismatch. */
export function verifyCandidate(rt: GpuRuntime, tuning: TuningOptions): Promise<void> {
  // once per device and resolved tuning: the kernels, not the model, are what is checked
  const full = overTuning(rt.tuning, tuning), key = JSON.stringify(full);
  let seen = verified.get(rt.device);
  if (!seen) { seen = new Map(); verified.set(rt.device, seen); }
  let p = seen.get(key);
  if (!p) {
    p = (async () => {
      const v = await createRuntime({ device: rt.device, tuning: full });
      try {
        for (const compare of checks(v)) await compare();
      } finally {
        v.destroy();
      }
    })();
    seen.set(key, p);
  }
  return p;
}
const verified = new WeakMap<GPUDevice, Map<string, Promise<void>>>();

function close(what: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  const tol = 1e-4 * scale + 1e-6;
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= tol)) throw new Error(`deepfried: autotune: ${what}[${i}] is ${got[i]}, the float64 reference ${want[i]}`);
  }
}

/** Queues the small problems on v (freed with v) and returns their comparisons. */
function checks(v: Runtime): (() => Promise<void>)[] {
  const r = seeded(7), rand = (n: number) => gaussian(n, r);
  const out: (() => Promise<void>)[] = [];
  const cmp = (what: string, t: { read(): Promise<ArrayLike<number>> }, want: () => ArrayLike<number>) => {
    const p = t.read();
    out.push(async () => close(what, await p, want()));
  };
  // conv2d 3×3, padding 1, bias
  const g: ConvGeometry = { N: 2, Cin: 3, H: 9, W: 9, Cout: 4, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 };
  const xs = rand(2 * 3 * 81), ws = rand(4 * 27), bs = rand(4), dys = rand(2 * 4 * 81);
  const x = v.tensor(xs, [2, 3, 9, 9]), w = v.tensor(ws, [4, 3, 3, 3]), b = v.tensor(bs, [4]), dy = v.tensor(dys, [2, 4, 9, 9]);
  cmp('conv2d y', v.conv2d(x, w, b, { padding: 1 }), () => conv2dRef(g, xs, ws, bs));
  const cg = v.conv2dBackward(x, w, dy, { padding: 1 }), cr = () => conv2dBackwardRef(g, xs, ws, dys);
  cmp('conv2d dx', cg.dx, () => cr().dx); cmp('conv2d dw', cg.dw, () => cr().dw); cmp('conv2d db', cg.db, () => cr().db);
  // linear 40 → 17
  const lx = rand(5 * 40), lw = rand(17 * 40), lb = rand(17), ldy = rand(5 * 17);
  const tx = v.tensor(lx, [5, 40]), tw = v.tensor(lw, [17, 40]);
  cmp('linear y', v.linear(tx, tw, v.tensor(lb, [17])), () => linearRef(lx, lw, lb, 5, 40, 17));
  const lg = v.linearBackward(tx, tw, v.tensor(ldy, [5, 17])), lr = () => linearBackwardRef(lx, lw, ldy, 5, 40, 17);
  cmp('linear dx', lg.dx, () => lr().dx); cmp('linear dw', lg.dw, () => lr().dw);
  // Fastfood 50 → 100 (d = 64, 2 blocks)
  const f = fastfoodInit(50, 100, r), fx = rand(3 * 50), fdy = rand(3 * 100), sh = [f.blocks, f.d];
  const ref = { ...f, outFeatures: 100 };
  const p = { B: v.tensor(f.B, sh), G: v.tensor(f.G, sh), S: v.tensor(f.S, sh), perm: f.perm, outFeatures: 100 };
  const ffx = v.tensor(fx, [3, 50]);
  cmp('fastfood y', v.fastfood(ffx, p), () => fastfoodRef(fx, 3, 50, ref).y);
  const fg = v.fastfoodBackward(ffx, p, v.tensor(fdy, [3, 100])), fr = () => fastfoodBackwardRef(fx, 3, 50, ref, fdy);
  cmp('fastfood dx', fg.dx, () => fr().dx); cmp('fastfood dS', fg.dS, () => fr().dS);
  // max-pool 2×2 / 2
  const px = rand(2 * 3 * 64), pdy = rand(2 * 3 * 16), pg = { kernel: [2, 2] as [number, number], stride: [2, 2] as [number, number], padding: [0, 0] as [number, number] };
  const tpx = v.tensor(px, [2, 3, 8, 8]);
  cmp('maxPool2d y', v.maxPool2d(tpx, { kernel: 2, stride: 2 }), () => maxPoolRef(px, [2, 3, 8, 8], pg).y);
  cmp('maxPool2d dx', v.maxPool2dBackward(tpx, v.tensor(pdy, [2, 3, 4, 4]), { kernel: 2, stride: 2 }), () => maxPoolBackwardRef(px, [2, 3, 8, 8], pdy, pg));
  return out;
}

/** Compiles and times the training step of a copy of `model` (its own parameters: the caller's
 * are never touched) with `tuning`; returns compile and median step time, ms. */
async function timeStep(rt: GpuRuntime, model: Sequential, opts: TrainerOptions, tuning: TuningOptions,
  compile: (o: TrainerOptions) => Promise<Trainer>, reps: number): Promise<{ compileMs: number; stepMs: number }> {
  const copy = Sequential.fromConfig(model.toConfig()).init(rt, 1);
  const t0 = performance.now();
  let trainer: Trainer | undefined;
  try {
    trainer = await compile({ ...opts, tuning });
    const compileMs = performance.now() - t0;
    const size = opts.batch * model.inputShape.reduce((a, b) => a * b, 1);
    const x = gaussian(size, seeded(3)).map((v) => v * 0.1), y = new Int32Array(opts.batch);
    await trainer.step(x, y); // warm-up: first submit, lazy allocations
    await rt.sync();
    const times: number[] = [];
    for (let i = 0; i < reps; i++) {
      const s = performance.now();
      await trainer.step(x, y);
      await rt.sync();
      times.push(performance.now() - s);
    }
    times.sort((a, b) => a - b);
    return { compileMs, stepMs: times[Math.floor(times.length / 2)]! };
  } finally {
    trainer?.destroy();
    copy.dispose();
  }
}

/** The cache key: the adapter (vendor, architecture, description), the model, batch and optimizer. */
export function autotuneKey(rt: GpuRuntime, model: Sequential, opts: TrainerOptions): string {
  const a = rt.adapterInfo;
  return JSON.stringify({ v: CACHE_VERSION, adapter: [a.vendor, a.architecture, a.description], model: model.toConfig(), batch: opts.batch, optimizer: opts.optimizer.kind });
}

/**
 * Chooses a trainer's kernels (see the file comment): from the cache when this adapter has seen
 * this model and batch, else by verifying and timing every candidate. `compile` compiles a trainer
 * with explicit tuning (Trainer.compile; never autotunes again).
 */
export async function autotuneTrainer(rt: GpuRuntime, model: Sequential, opts: TrainerOptions,
  compile: (o: TrainerOptions) => Promise<Trainer>, reps = 3): Promise<AutotuneResult> {
  const key = autotuneKey(rt, model, opts);
  const hit = await cacheGet(key);
  if (hit) return { ...hit, cached: true };
  const t0 = performance.now();
  const base = await timeStep(rt, model, opts, {}, compile, reps);
  const candidates: AutotuneCandidate[] = [{ tuning: {}, verified: true, ...base }];
  let best: AutotuneCandidate = candidates[0]!;
  for (const tuning of candidatesFor(model)) {
    const c: AutotuneCandidate = { tuning, verified: false };
    candidates.push(c);
    try {
      await verifyCandidate(rt, tuning);
      c.verified = true;
    } catch (e) {
      c.error = (e as Error).message;
      continue;
    }
    Object.assign(c, await timeStep(rt, model, opts, tuning, compile, reps));
    // a choice must win by more than the noise of a few steps
    if (c.stepMs! < 0.97 * best.stepMs!) best = c;
  }
  const result: AutotuneResult = {
    key, tuning: best.tuning, baselineMs: base.stepMs, chosenMs: best.stepMs!, costMs: performance.now() - t0, candidates, cached: false,
  };
  await cachePut(key, result);
  return result;
}

// ------------------------------------------------------------------------------------ the cache
const isNode = typeof process !== 'undefined' && !!process.versions?.node;
type Entries = Record<string, AutotuneResult>;

/** Where the Node cache file lives. */
export async function autotuneCachePath(): Promise<string> {
  const { join } = await nodeImport<typeof import('node:path')>('node:path');
  const { homedir } = await nodeImport<typeof import('node:os')>('node:os');
  const env = process.env;
  const dir = env.DEEPFRIED_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'deepfried');
  return join(dir, 'autotune.json');
}

async function readFileEntries(): Promise<Entries> {
  const fs = await nodeImport<typeof import('node:fs/promises')>('node:fs/promises');
  const path = await autotuneCachePath();
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch {
    return {}; // no cache yet
  }
  try {
    const parsed = JSON.parse(text) as { version?: number; entries?: Entries };
    if (parsed?.version !== CACHE_VERSION || typeof parsed.entries !== 'object' || parsed.entries === null) throw new Error(`version ${parsed?.version}, expected ${CACHE_VERSION}`);
    return parsed.entries;
  } catch (e) {
    console.warn(`deepfried: the autotune cache ${path} is not usable (${(e as Error).message}); ignoring it (it will be rewritten)`);
    return {};
  }
}

async function writeFileEntries(entries: Entries): Promise<void> {
  const fs = await nodeImport<typeof import('node:fs/promises')>('node:fs/promises');
  const { dirname } = await nodeImport<typeof import('node:path')>('node:path');
  const path = await autotuneCachePath();
  await fs.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify({ version: CACHE_VERSION, entries }, null, 1));
  await fs.rename(tmp, path); // whole or not at all
}

function idb<T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('deepfried', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('autotune');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const req = f(db.transaction('autotune', mode).objectStore('autotune'));
      req.onsuccess = () => { resolve(req.result); db.close(); };
      req.onerror = () => { reject(req.error); db.close(); };
    };
  });
}

const hasIdb = () => typeof indexedDB !== 'undefined';

async function cacheGet(key: string): Promise<AutotuneResult | undefined> {
  if (isNode) return (await readFileEntries())[key];
  if (!hasIdb()) return undefined;
  const v = await idb('readonly', (s) => s.get(key) as IDBRequest<unknown>).catch((e: Error) => {
    console.warn(`deepfried: the autotune cache (IndexedDB "deepfried") is not readable (${e.message}); ignoring it`);
    return undefined;
  });
  if (v === undefined) return undefined;
  if (v && typeof v === 'object' && 'tuning' in v && 'candidates' in v) return v as AutotuneResult;
  console.warn('deepfried: an autotune cache entry (IndexedDB "deepfried") is not usable; ignoring it (it will be rewritten)');
  return undefined;
}

async function cachePut(key: string, value: AutotuneResult): Promise<void> {
  if (isNode) await writeFileEntries({ ...(await readFileEntries()), [key]: value });
  else if (hasIdb()) await idb('readwrite', (s) => s.put(value, key)).catch((e: Error) => console.warn(`deepfried: could not store the autotune result: ${e.message}`));
}

/** Empties the autotune cache (the Node file or the browser's IndexedDB store). */
export async function clearAutotuneCache(): Promise<void> {
  if (isNode) {
    const fs = await nodeImport<typeof import('node:fs/promises')>('node:fs/promises');
    await fs.rm(await autotuneCachePath(), { force: true });
  } else if (hasIdb()) {
    await idb('readwrite', (s) => s.clear());
  }
}
