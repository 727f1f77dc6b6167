// Kernel choices belong to a runtime (DESIGN.md §2.11): what `createRuntime({ tuning })` asked for,
// over defaults chosen from the adapter. Ops read them from the EncodeContext they receive; no
// module holds state that steers a kernel.

/** A runtime's kernel choices (rt.tuning): the adapter's defaults with createRuntime's `tuning`
 * applied, frozen. */
export interface Tuning {
  /** The adapter is a CPU driver (SwiftShader, llvmpipe, a fallback adapter): detected; it steers
   * the defaults below, where CPU drivers and GPUs reward different code (DESIGN.md §5). */
  readonly cpu: boolean;
  /** The tiled matmul kernel (linear layers and conv2d's GEMM backward). */
  readonly matmul: {
    /** Largest register tile of the matmul kernel: 16×16 loads less per FMA where loads bound
     * the speed (CPU adapters; on SwiftShader the MNIST conv2 backward products and the reference
     * net's linear products ran 1.2–1.4× faster than with 8×8, timed side by side), for products
     * of at least 2^22 multiply-adds (below that its longer compile is not won back); 8×8 on a
     * GPU, where 256 accumulators would spill. 'auto' chooses so. */
    readonly maxTile: 8 | 16 | 'auto';
  };
  /** Row kernels (FWHT rows, fused Fastfood); see kernels/fwht.wgsl.ts RowTuning. */
  readonly rows: {
    /** Workgroups to aim for. A CPU adapter runs a few workgroups per core at a time and pays per
     * workgroup for zeroing workgroup memory and loading B, G, S, perm: there, a few long-lived
     * workgroups measured ~5–10× faster than one row per workgroup (d = 1024, 256 rows). */
    readonly targetWorkgroups: number;
    /** Values per invocation; 0: by row length (a GPU keeps 32; a CPU adapter uses two phases,
     * one transpose per H, with up to 2^ceil(k/2) values per invocation: barriers switch
     * coroutines there). */
    readonly maxRegisters: number;
    /** Bank-conflict-free workgroup-memory addressing (GPUs). */
    readonly swizzle: boolean;
    /** Butterflies across subgroup lanes where the device has subgroups. */
    readonly subgroups: boolean;
  };
  /** Fastfood kernels. */
  readonly fastfood: {
    /** Longest row of the fused training kernels: each costs SwiftShader seconds to compile per
     * 4 KiB of workgroup memory, and they run once per step next to far larger convolutions. */
    readonly maxFusedTraining: number;
    /** 'multipass' forces the multi-pass path (tests, benchmarks). */
    readonly path: 'auto' | 'multipass';
    /** The multi-pass kernels take 4 elements per invocation where the shapes allow. */
    readonly vec4Multipass: boolean;
    /** Inference rows of twice the longest fused row run fused, half a row at a time through
     * workgroup memory (SwiftShader, 128×9216→16384: 2.2× faster than the multi-pass path); on a
     * GPU it holds 11 register arrays per invocation, not yet measured there. */
    readonly splitRows: boolean;
  };
  /** conv2d kernels. */
  readonly conv: {
    /** How conv2dBackward computes dx and dw: 'direct' (the tiled conv kernel for dx, the split-K
     * reduction for dw), 'gemm' (im2col + the matmul kernel), 'auto' (per shape). */
    readonly backward: 'auto' | 'gemm' | 'direct';
  };
  /** Pooling kernels. */
  readonly pool: {
    /** The 2×2/stride-2 max-pool kernels (one invocation per 2×2 block) where they apply. */
    readonly tiles2x2: boolean;
  };
}

/** T with every property optional and writable, recursively. */
type DeepPartial<T> = { -readonly [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
/** What `createRuntime({ tuning })` takes: any subset of Tuning. */
export type TuningOptions = DeepPartial<Tuning>;

export interface AdapterFacts {
  vendor: string;
  architecture: string;
  description: string;
  isFallbackAdapter: boolean;
}

export const isCpuAdapter = (a: AdapterFacts): boolean =>
  a.isFallbackAdapter || /swiftshader|llvmpipe|cpu/i.test(`${a.architecture} ${a.description}`);

/** The defaults for an adapter, overridden by `opts`; unknown keys are an error. */
export function resolveTuning(adapter: AdapterFacts, opts: TuningOptions = {}): Tuning {
  const cpu = opts.cpu ?? isCpuAdapter(adapter);
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 2;
  const defaults: Tuning = {
    cpu,
    matmul: { maxTile: 'auto' },
    rows: { targetWorkgroups: cpu ? 2 * cores : 1024, maxRegisters: 0, swizzle: !cpu, subgroups: true },
    fastfood: { maxFusedTraining: 2048, path: 'auto', vec4Multipass: true, splitRows: cpu },
    conv: { backward: 'auto' },
    pool: { tiles2x2: true },
  };
  return freeze(merge(defaults as unknown as Record<string, unknown>, opts as Record<string, unknown>, 'tuning') as unknown as Tuning);
}

/** `base` with `opts` applied (a runtime's tuning with a trainer's or a candidate's changes), frozen. */
export function overTuning(base: Tuning, opts: TuningOptions = {}): Tuning {
  return freeze(merge(base as unknown as Record<string, unknown>, opts as Record<string, unknown>, 'tuning') as unknown as Tuning);
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>, path: string): Record<string, unknown> {
  if (over === null || typeof over !== 'object') throw new Error(`deepfried: ${path} must be an object, got ${JSON.stringify(over)}`);
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    if (!(k in base)) throw new Error(`deepfried: ${path}.${k} is not a tuning option (known: ${Object.keys(base).join(', ')})`);
    const b = base[k];
    if (b !== null && typeof b === 'object') out[k] = merge(b as Record<string, unknown>, v as Record<string, unknown>, `${path}.${k}`);
    else {
      if (typeof v !== typeof b && !(k === 'maxTile' && (v === 8 || v === 16 || v === 'auto'))) {
        throw new Error(`deepfried: ${path}.${k} must be a ${typeof b}, got ${JSON.stringify(v)}`);
      }
      out[k] = v;
    }
  }
  return out;
}

function freeze<T>(o: T): T {
  if (o && typeof o === 'object') { for (const v of Object.values(o)) freeze(v); Object.freeze(o); }
  return o;
}
