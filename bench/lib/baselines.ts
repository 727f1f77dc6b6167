// The adapter's limits, measured in the same run as everything else: a copy kernel (bytes/s,
// read + written) and an FMA loop (FLOP/s with an FMA as 2 FLOP; op/s with an FMA as 1 op).
import { copyKernel, copyWorkgroups, fmaKernel, type CopyVariant, type FmaVariant } from '../../kernels/bench.wgsl.js';
import type { GpuRuntime } from '../../src/gpu/runtime.js';
import type { GpuTimer } from './gpu-timer.js';
import { measureOurs } from './measure.js';
import type { Budget } from './stats.js';
import type { Baselines, CopyBaseline, FmaBaseline, Log, Stat, Timing } from './types.js';

const pick = (t: { wallMs: Stat; gpuMs?: Stat }): { ms: Stat; timing: Timing } =>
  t.gpuMs ? { ms: t.gpuMs, timing: 'timestamp' } : { ms: t.wallMs, timing: 'wall' };

export async function measureCopy(rt: GpuRuntime, timer: GpuTimer | null, budget: Budget, variant: CopyVariant, mib: number): Promise<CopyBaseline> {
  const words = (mib * 2 ** 20) / 4;
  const n = variant === 'vec4' ? words / 4 : words;
  const src = rt.zeros([words]), dst = rt.zeros([words]);
  try {
    const kernel = copyKernel(variant);
    await rt.prepare(kernel);
    const workgroups = copyWorkgroups(n);
    const t = await measureOurs(rt, timer, budget, () => rt.enqueue(`copy ${variant}`, [{ kernel, buffers: [src, dst], params: { n }, workgroups }]));
    const bytes = 2 * words * 4;
    const p = pick(t);
    return { variant, spec: variant, bytes, gbps: bytes / (p.ms.median * 1e6), ms: p.ms, timing: p.timing };
  } finally {
    src.dispose();
    dst.dispose();
  }
}

export async function measureFma(rt: GpuRuntime, timer: GpuTimer | null, budget: Budget, v: FmaVariant, targetMs: number): Promise<FmaBaseline> {
  const workgroups = 1024, wgSize = 64, invocations = workgroups * wgSize;
  const out = rt.empty([invocations]);
  try {
    const kernel = fmaKernel(v, wgSize);
    await rt.prepare(kernel);
    const once = (iters: number) => rt.enqueue('fma', [{ kernel, buffers: [out], params: { iters, m: 0.999, c: 0.001 }, workgroups }]);
    // Calibrate the loop length so one dispatch lasts about targetMs.
    let iters = 16;
    for (;;) {
      const t = performance.now();
      once(iters);
      await rt.sync();
      const ms = performance.now() - t;
      if (ms >= targetMs / 4 || iters >= 1 << 20) {
        iters = Math.max(16, Math.min(1 << 22, Math.round(iters * targetMs / Math.max(ms, 0.01))));
        break;
      }
      iters *= 4;
    }
    const t = await measureOurs(rt, timer, budget, () => once(iters));
    const fmas = invocations * iters * v.accumulators * v.width;
    const p = pick(t);
    const gops = fmas / (p.ms.median * 1e6);
    return { spec: v, variant: `${v.form} ${v.width === 4 ? 'vec4' : 'f32'}×${v.accumulators}`, fmas, gflops: 2 * gops, gops, ms: p.ms, timing: p.timing };
  } finally {
    out.dispose();
  }
}

export async function measureBaselines(rt: GpuRuntime, timer: GpuTimer | null, budget: Budget, quick: boolean, log: Log): Promise<Baselines> {
  const mib = quick ? 16 : 64;
  const copyVariants: CopyBaseline[] = [];
  for (const v of ['f32', 'vec4'] as const) {
    const c = await measureCopy(rt, timer, budget, v, mib);
    log(`  copy ${v}: ${c.gbps.toFixed(2)} GB/s (${c.ms.median.toFixed(2)} ms for ${mib} MiB, ${c.timing})`);
    copyVariants.push(c);
  }
  const fmaVariants: FmaBaseline[] = [];
  const variants: FmaVariant[] = quick
    ? [{ accumulators: 8, width: 4, form: 'fma' }, { accumulators: 8, width: 1, form: 'fma' }]
    : [
      { accumulators: 8, width: 4, form: 'fma' }, { accumulators: 16, width: 1, form: 'fma' },
      { accumulators: 8, width: 1, form: 'fma' }, { accumulators: 4, width: 4, form: 'muladd' },
      { accumulators: 8, width: 4, form: 'muladd' },
    ];
  for (const v of variants) {
    const f = await measureFma(rt, timer, budget, v, quick ? 30 : 150);
    log(`  fma ${f.variant}: ${f.gflops.toFixed(2)} GFLOP/s (${f.ms.median.toFixed(2)} ms, ${f.timing})`);
    fmaVariants.push(f);
  }
  return pickBest(copyVariants, fmaVariants);
}

function pickBest(copyVariants: CopyBaseline[], fmaVariants: FmaBaseline[]): Baselines {
  const best = <T extends { gbps?: number; gflops?: number }>(xs: T[], k: 'gbps' | 'gflops') => xs.reduce((a, b) => ((b[k] ?? 0) > (a[k] ?? 0) ? b : a));
  return { copy: best(copyVariants, 'gbps'), fma: best(fmaVariants, 'gflops'), copyVariants, fmaVariants };
}

/** Measures the fastest copy and FMA variants again (at the end of the run) and returns the
 * baselines over both measurements. */
export async function remeasureBaselines(rt: GpuRuntime, timer: GpuTimer | null, budget: Budget, quick: boolean, prev: Baselines, log: Log): Promise<Baselines> {
  const c = await measureCopy(rt, timer, budget, prev.copy.spec, quick ? 16 : 64);
  c.variant += ' (end of run)';
  const f = await measureFma(rt, timer, budget, prev.fma.spec, quick ? 30 : 150);
  f.variant += ' (end of run)';
  log(`  copy ${c.variant}: ${c.gbps.toFixed(2)} GB/s; fma ${f.variant}: ${f.gflops.toFixed(2)} GFLOP/s`);
  return pickBest([...prev.copyVariants, c], [...prev.fmaVariants, f]);
}
