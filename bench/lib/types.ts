// The shapes of benchmark results: what the suite returns, run.ts prints and writes, report.ts renders.

export interface Stat { median: number; min: number; max: number; n: number }

export type RowStatus = 'ok' | 'over device limit' | 'error' | 'skipped';

/** One measured thing: our op (and, where there is one, the tfjs peer on the same shape). */
export interface Row {
  group: string;
  op: string;
  shape: string;
  status: RowStatus;
  error?: string;
  /** Wall clock per call (ms), over repetitions, each ending in a queue sync. */
  wallMs?: Stat;
  /** GPU time per call (ms) from timestamp queries, where the device has them. */
  gpuMs?: Stat;
  bytes?: number;
  flops?: number;
  /** Operation count of the roofline model (adds and FMAs count one each). */
  ops?: number;
  gbps?: number;
  gflops?: number;
  fracCopy?: number;
  fracFma?: number;
  fracRoofline?: number;
  paramBytes?: number;
  peer?: PeerFigures;
  /** Further peers on the same work, beside `peer` (train-step: each jax-js configuration on the
   * reference net). Their fractions are taken against this row's limits, as `peer`'s are. */
  peers?: PeerFigures[];
  /** ours ÷ peer speed (peer time ÷ our time, both wall clock). */
  ratio?: number;
  extra?: Record<string, number | string>;
  /** Copy and FMA probes run right before and after this row (the faster of the two): its
   * fractions (and the peer's) are taken against these, not the run-wide baselines. */
  local?: Limits;
}

/** What the adapter gives: copy bandwidth, FMA-loop FLOP/s and ops/s (an FMA = one op). */
export interface Limits { gbps: number; gflops: number; gops: number }

export interface PeerFigures {
  name: string;
  /** 'unavailable': the peer cannot run in this runtime (error says why), as opposed to failing. */
  status: RowStatus | 'unavailable';
  error?: string;
  wallMs?: Stat;
  gbps?: number;
  gflops?: number;
  fracFma?: number;
  fracCopy?: number;
  /** train-step: imagesPerSecond, gpuBytes (where measurable), and notes on the configuration. */
  extra?: Record<string, number | string>;
}

export interface GroupResult { name: string; status: 'ok' | 'partial' | 'error'; note?: string; rows: Row[]; seconds: number }

export interface AdapterReport { vendor: string; architecture: string; description: string; isFallbackAdapter: boolean; hasTimestamps: boolean; hasSubgroups: boolean }

export interface CopyBaseline { variant: string; spec: 'f32' | 'vec4'; bytes: number; gbps: number; ms: Stat; timing: Timing }
export interface FmaBaseline { variant: string; spec: { accumulators: number; width: 1 | 4; form: 'fma' | 'muladd' }; fmas: number; gflops: number; gops: number; ms: Stat; timing: Timing }
export interface Baselines {
  copy: CopyBaseline;
  fma: FmaBaseline;
  /** Every variant measured, at the start of the run and (the fastest again) at its end; the
   * baseline is the fastest of all, so the machine's noise can only lower the fractions. */
  copyVariants: CopyBaseline[];
  fmaVariants: FmaBaseline[];
}

export type Timing = 'timestamp' | 'wall';

export interface Target {
  name: string; status: 'met' | 'not met' | 'not measured'; value?: string; detail: string;
  /** What is known of the reason, where a target is not met. */
  why?: string;
}

export interface BenchResults {
  meta: { date: string; runtime: 'node' | 'chrome'; quick: boolean; filter?: string; timing: Timing; userAgent: string; seconds: number };
  adapter: AdapterReport;
  peerAdapter?: string;
  baselines: Baselines;
  groups: GroupResult[];
  targets: Target[];
}

export interface SuiteOptions { quick: boolean; filter?: string; runtime: 'node' | 'chrome' }

export type Log = (line: string) => void;
