// Fastfood vs a dense linear layer of the same shape: time and parameter memory, at d = 1024…16384
// and the paper's ImageNet FC shapes (9216 → 16384, 9216 → 32768 by stacked blocks), batch 128.
import { fastfoodParams, fmtShape, ours, randTensor, type Ctx } from '../lib/context.js';
import type { Row } from '../lib/types.js';
import { fastfoodOps } from './fastfood.js';
import { splitRowsFit } from '../../src/ops/fastfood.js';
import { createRuntime } from '../../src/api.js';
import { installGpuTimer } from '../lib/gpu-timer.js';

export interface DenseShape { inF: number; outF: number; label?: string }

export function denseShapes(quick: boolean): { batch: number; shapes: DenseShape[] } {
  if (quick) return { batch: 16, shapes: [{ inF: 1024, outF: 1024 }] };
  return {
    batch: 128,
    shapes: [
      ...[1024, 2048, 4096, 8192, 16384].map((d) => ({ inF: d, outF: d })),
      { inF: 9216, outF: 16384, label: 'ImageNet FC6' }, { inF: 9216, outF: 32768, label: 'ImageNet FC6 (2 blocks)' },
    ],
  };
}

export async function fastfoodVsDenseGroup(ctx: Ctx): Promise<Row[]> {
  // The alternate Fastfood forward path runs on a second runtime on the same device whose tuning
  // flips splitRows (kernel choices belong to a runtime); made on first use, destroyed at the end.
  // Its rows are timed like the others: on the GPU too where the main runtime is.
  let alt: Ctx | null = null;
  try {
    return await rowsOf(ctx, async () => {
      if (!alt) {
        const rt = await createRuntime({ device: ctx.rt.device, tuning: { fastfood: { splitRows: !ctx.rt.tuning.fastfood.splitRows } } });
        alt = { ...ctx, rt, timer: ctx.timer && !ctx.timer.disabled ? installGpuTimer(rt) : null };
      }
      return alt;
    });
  } finally {
    (alt as Ctx | null)?.rt.destroy();
  }
}

async function rowsOf(ctx: Ctx, alternate: () => Promise<Ctx>): Promise<Row[]> {
  const rows: Row[] = [];
  const { batch: n, shapes } = denseShapes(ctx.quick);
  const maxBinding = ctx.rt.limits.maxStorageBufferBindingSize;
  for (const s of shapes) {
    const d = 2 ** Math.ceil(Math.log2(s.inF));
    const blocks = Math.ceil(s.outF / d);
    const shape = `${n}×${s.inF}→${s.outF}${s.label ? ` (${s.label})` : ''}`;
    const ffParam = blocks * d * 4 * 4;
    const ffWork = { bytes: (n * s.inF + n * s.outF) * 4 + ffParam, ops: n * blocks * fastfoodOps(d), paramBytes: ffParam };
    const ffExtra = { d, blocks, inFeatures: s.inF, outFeatures: s.outF, batch: n };
    /** One Fastfood forward row on `c.rt` (inputs made there: tensors cannot cross runtimes). */
    const ffRow = async (c: Ctx, op: string) => {
      const row = await ours(c, 'fastfood-vs-dense', op, shape, ffWork, () => {
        const x = randTensor(c.rt, [n, s.inF]);
        const p = fastfoodParams(c.rt, d, blocks, s.outF);
        return { inputs: [x, ...p.tensors], call: () => c.rt.fastfood(x, p) };
      });
      return Object.assign(row, { extra: { ...ffExtra } as Record<string, number | string> });
    };
    const ff = await ffRow(ctx, 'fastfood');
    rows.push(ff);
    // The ImageNet rows, where d is twice what workgroup memory holds, have two forward paths
    // (src/ops/fastfood.ts splitRows): time the one this adapter does not take by default too, so
    // that a run on a new adapter shows which is faster.
    const split = ctx.rt.tuning.fastfood.splitRows && ctx.rt.tuning.fastfood.path !== 'multipass';
    if (s.label && splitRowsFit(ctx.rt, d)) {
      const a = await alternate();
      rows.push(await ffRow(a, split ? 'fastfood (multi-pass)' : 'fastfood (split rows)'));
      a.rt.trim();
    }
    const wBytes = s.inF * s.outF * 4;
    const work = { flops: 2 * n * s.inF * s.outF, bytes: (n * s.inF + n * s.outF + s.outF) * 4 + wBytes, paramBytes: wBytes + s.outF * 4 };
    let dense: Row;
    if (wBytes > maxBinding || wBytes > ctx.rt.limits.maxBufferSize) {
      dense = { group: 'fastfood-vs-dense', op: 'dense', shape, status: 'over device limit', ...work,
        error: `weight ${fmtShape([s.outF, s.inF])} is ${wBytes} bytes > maxStorageBufferBindingSize ${maxBinding}` };
      ctx.log(`  dense ${shape}: over device limit`);
    } else {
      dense = await ours(ctx, 'fastfood-vs-dense', 'dense', shape, work, () => {
        const x = randTensor(ctx.rt, [n, s.inF]);
        const w = randTensor(ctx.rt, [s.outF, s.inF]);
        const b = randTensor(ctx.rt, [s.outF]);
        return { inputs: [x, w, b], call: () => ctx.rt.linear(x, w, b) };
      });
      ctx.rt.trim();
    }
    dense.extra = { ...ffExtra };
    if (ff.status === 'ok' && dense.status === 'ok' && ff.wallMs && dense.wallMs) {
      ff.extra.speedupVsDense = dense.wallMs.median / ff.wallMs.median;
    }
    ff.extra.paramRatio = (work.paramBytes) / ffParam;
    rows.push(dense);
  }
  return rows;
}
