// fwht and fastfood (forward, backward) across d and batch: GB/s, fraction of the copy bandwidth,
// and fraction of the roofline bound max(bytes ÷ copy bandwidth, ops ÷ FMA op rate).
import { fastfoodParams, fmtShape, ours, randTensor, type Ctx } from '../lib/context.js';
import type { Row } from '../lib/types.js';

export function grid(ctx: Ctx): { ds: number[]; batches: number[] } {
  return ctx.quick ? { ds: [1024], batches: [16] } : { ds: [256, 1024, 2048, 4096, 8192, 16384], batches: [1, 16, 256, 1024] };
}

/** FWHT of one row: d·log2 d adds (plus d scaling multiplies). */
export const fwhtOps = (d: number): number => d * Math.log2(d) + d;
/** Fastfood forward of one row and block: two FWHTs and three diagonal products. */
export const fastfoodOps = (d: number): number => 2 * d * Math.log2(d) + 3 * d;
/** Fastfood backward of one row and block: recomputing the forward (a3, a5), two more FWHTs and
 * three diagonal products, and the three gradient products of dB, dG, dS. */
export const fastfoodBackwardOps = (d: number): number => 2 * fastfoodOps(d) + 3 * d;

export async function fwhtGroup(ctx: Ctx): Promise<Row[]> {
  const rows: Row[] = [];
  const { ds, batches } = grid(ctx);
  for (const d of ds) {
    for (const n of batches) {
      const bytes = 2 * n * d * 4;
      rows.push(await ours(ctx, 'fwht', 'fwd', fmtShape([n, d]), { bytes, ops: n * fwhtOps(d) }, () => {
        const x = randTensor(ctx.rt, [n, d]);
        return { inputs: [x], call: () => ctx.rt.fwht(x, { scale: 1 / Math.sqrt(d) }) };
      }));
    }
  }
  return rows;
}

export async function fastfoodGroup(ctx: Ctx): Promise<Row[]> {
  const rows: Row[] = [];
  const { ds, batches } = grid(ctx);
  for (const d of ds) {
    for (const n of batches) {
      const paramBytes = 4 * d * 4;
      rows.push(await ours(ctx, 'fastfood', 'fwd', fmtShape([n, d]), { bytes: 2 * n * d * 4 + paramBytes, ops: n * fastfoodOps(d), paramBytes }, () => {
        const x = randTensor(ctx.rt, [n, d]);
        const p = fastfoodParams(ctx.rt, d, 1, d);
        return { inputs: [x, ...p.tensors], call: () => ctx.rt.fastfood(x, p) };
      }));
      // reads x, dy and the parameters; writes dx and dB, dG, dS.
      const bytes = 3 * n * d * 4 + paramBytes + 3 * d * 4;
      rows.push(await ours(ctx, 'fastfood', 'bwd', fmtShape([n, d]), { bytes, ops: n * fastfoodBackwardOps(d), paramBytes }, () => {
        const x = randTensor(ctx.rt, [n, d]);
        const dy = randTensor(ctx.rt, [n, d]);
        const p = fastfoodParams(ctx.rt, d, 1, d);
        return { inputs: [x, dy, ...p.tensors], call: () => ctx.rt.fastfoodBackward(x, p, dy) };
      }));
    }
  }
  return rows;
}
