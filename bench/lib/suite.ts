// The whole suite, independent of where it runs (Node or a Chrome page): adapter, baselines, groups,
// targets. It returns plain data; printing and files are the caller's business.
import { createRuntime } from '../../src/api.js';
import { fastfoodVsDenseGroup } from '../groups/dense.js';
import { fastfoodGroup, fwhtGroup } from '../groups/fastfood.js';
import { convGroup, linearGroup, poolGroup } from '../groups/layers.js';
import { overheadGroup } from '../groups/overhead.js';
import { trainGroup } from '../groups/train.js';
import { measureBaselines, remeasureBaselines } from './baselines.js';
import { Probe } from './probe.js';
import { rederive, type Ctx } from './context.js';
import { installGpuTimer } from './gpu-timer.js';
import { errorText } from './measure.js';
import { FULL_BUDGET, QUICK_BUDGET } from './stats.js';
import { evaluateTargets } from './targets.js';
import { loadPeer } from './tfjs.js';
import type { BenchResults, GroupResult, Log, Row, SuiteOptions } from './types.js';

export interface GroupDef { name: string; peer: boolean; run(ctx: Ctx): Promise<Row[]> }

export const GROUPS: GroupDef[] = [
  { name: 'fwht', peer: false, run: fwhtGroup },
  { name: 'fastfood', peer: false, run: fastfoodGroup },
  { name: 'fastfood-vs-dense', peer: false, run: fastfoodVsDenseGroup },
  { name: 'conv', peer: true, run: convGroup },
  { name: 'pool', peer: true, run: poolGroup },
  { name: 'linear', peer: true, run: linearGroup },
  { name: 'train-step', peer: true, run: trainGroup },
  { name: 'overhead', peer: false, run: overheadGroup },
];

export function selectGroups(filter?: string): GroupDef[] {
  if (!filter) return GROUPS;
  const exact = GROUPS.filter((g) => g.name === filter);
  return exact.length ? exact : GROUPS.filter((g) => g.name.includes(filter));
}

export async function runSuite(opts: SuiteOptions, log: Log): Promise<BenchResults> {
  const start = performance.now();
  const groups = selectGroups(opts.filter);
  if (!groups.length) throw new Error(`no benchmark group matches "${opts.filter}" (groups: ${GROUPS.map((g) => g.name).join(', ')})`);
  const rt = await createRuntime();
  try {
    const timer = installGpuTimer(rt);
    const budget = opts.quick ? QUICK_BUDGET : FULL_BUDGET;
    const a = rt.adapterInfo;
    log(`adapter: ${a.vendor} / ${a.architecture} / ${a.description}${a.isFallbackAdapter ? ' (fallback adapter)' : ''}; ` +
      `timing: ${timer ? 'GPU timestamps' : 'wall clock'}`);
    log('baselines:');
    const ctx: Ctx = { rt, timer, budget, quick: opts.quick, baselines: await measureBaselines(rt, timer, budget, opts.quick, log), peer: null, log };
    // 16 MiB copy (past the CPU caches SwiftShader runs in) and ~10 ms FMA probes around every
    // measurement of ours (Row.local)
    ctx.probe = await Probe.create(rt, timer, ctx.baselines, 16, 10);
    if (groups.some((g) => g.peer)) {
      try {
        ctx.peer = await loadPeer();
        log(`peer: tfjs-backend-webgpu on ${ctx.peer.adapter}`);
      } catch (e) {
        ctx.peerError = `tfjs peer failed to load: ${errorText(e)}`;
        log(ctx.peerError);
      }
    }
    const results: GroupResult[] = [];
    for (const g of groups) {
      log(`[${g.name}]`);
      const t = performance.now();
      let rows: Row[] = [];
      let status: GroupResult['status'];
      let note: string | undefined;
      try {
        rows = await g.run(ctx);
        status = rows.some((r) => r.status === 'error') ? 'partial' : 'ok';
      } catch (e) {
        status = 'error';
        note = errorText(e);
        log(`  group failed: ${note}`);
      }
      results.push({ name: g.name, status, note, rows, seconds: (performance.now() - t) / 1000 });
      rt.trim();
    }
    ctx.probe?.dispose();
    log('baselines again (end of run):');
    const baselines = await remeasureBaselines(rt, timer, budget, opts.quick, ctx.baselines, log);
    for (const g of results) rederive(g.rows, baselines);
    const partial: Omit<BenchResults, 'targets'> = {
      meta: {
        date: new Date().toISOString(), runtime: opts.runtime, quick: opts.quick, filter: opts.filter,
        timing: timer ? 'timestamp' : 'wall', userAgent: typeof navigator !== 'undefined' && navigator.userAgent ? navigator.userAgent : `node ${typeof process !== 'undefined' ? process.version : ''}`,
        seconds: (performance.now() - start) / 1000,
      },
      adapter: { ...a, hasTimestamps: rt.hasTimestamps, hasSubgroups: rt.hasSubgroups },
      peerAdapter: ctx.peer?.adapter,
      baselines,
      groups: results,
    };
    return { ...partial, targets: evaluateTargets(partial) };
  } finally {
    rt.destroy();
  }
}
