// Fastfood vs a dense linear layer of the same shape: time and parameter memory, at d = 1024…16384
// and the paper's ImageNet FC shapes (9216 → 16384, 9216 → 32768 by stacked blocks), batch 128.
import { fastfoodParams, fmtShape, ours, randTensor, type Ctx } from '../lib/context.js';
import type { Row } from '../lib/types.js';
import { fastfoodOps } from './fastfood.js';
import { FASTFOOD_OPTIONS, splitRowsFit, splitRowsOn } from '../../src/ops/fastfood.js';
import type { FastfoodParams } from '../../src/ops/types.js';
import type { Tensor } from '../../src/gpu/runtime.js';

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
    /** One Fastfood forward row, the call made by `forward`. */
    const ffRow = async (op: string, forward: (x: Tensor, p: FastfoodParams) => Promise<Tensor>) => {
      const row = await ours(ctx, 'fastfood-vs-dense', op, shape, ffWork, () => {
        const x = randTensor(ctx.rt, [n, s.inF]);
        const p = fastfoodParams(ctx.rt, d, blocks, s.outF);
        return { inputs: [x, ...p.tensors], call: () => forward(x, p) };
      });
      return Object.assign(row, { extra: { ...ffExtra } as Record<string, number | string> });
    };
    const ff = await ffRow('fastfood', (x, p) => ctx.rt.fastfood(x, p));
    rows.push(ff);
    // The ImageNet rows, where d is twice what workgroup memory holds, have two forward paths
    // (src/ops/fastfood.ts splitRows): time the one this adapter does not take by default too, so
    // that a run on a new adapter shows which is faster.
    const probe = s.label ? randTensor(ctx.rt, [1, s.inF]) : null;
    const split = probe ? splitRowsOn(probe) : false, alternative = probe ? splitRowsFit(ctx.rt, probe, d) : false;
    probe?.dispose();
    if (alternative) {
      rows.push(await ffRow(split ? 'fastfood (multi-pass)' : 'fastfood (split rows)', async (x, p) => {
        const saved = FASTFOOD_OPTIONS.splitRows;
        FASTFOOD_OPTIONS.splitRows = !split;
        try { return await ctx.rt.fastfood(x, p); } finally { FASTFOOD_OPTIONS.splitRows = saved; }
      }));
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
