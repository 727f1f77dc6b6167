// What every group gets, and the one place where a measurement becomes a Row (status, derived
// rates, fractions of the baselines, the peer's figures and the ratio).
import type { Runtime } from '../../src/api.js';
import type { FastfoodParams } from '../../src/ops/types.js';
import type { Tensor } from '../../src/gpu/runtime.js';
import type { GpuTimer } from './gpu-timer.js';
import { errorText, measureOurs } from './measure.js';
import type { Budget } from './stats.js';
import type { Peer } from './tfjs.js';
import type { Probe } from './probe.js';
import type { Baselines, Limits, Log, PeerFigures, Row, RowStatus } from './types.js';

export interface Ctx {
  rt: Runtime;
  timer: GpuTimer | null;
  budget: Budget;
  quick: boolean;
  baselines: Baselines;
  /** Short copy/FMA probes run around every measurement of ours (see Row.local). */
  probe?: Probe;
  peer: Peer | null;
  peerError?: string;
  log: Log;
}

export interface Work {
  bytes?: number;
  flops?: number;
  /** Roofline op count (adds and FMAs one each). */
  ops?: number;
  paramBytes?: number;
}

export function statusOf(e: unknown): RowStatus {
  // Past a declared limit, or the allocation the limits allow but the device cannot back
  // (SwiftShader: a 1 GiB buffer at maxStorageBufferBindingSize = 1 GiB).
  if (/over this device's limit|exceed this device|device limit|OUT_OF_DEVICE_MEMORY|out of memory/i.test(errorText(e))) return 'over device limit';
  return 'error';
}

/** Our time per call (ms) used for rates: GPU time where measured, else wall clock. */
export const oursMs = (r: Row): number | undefined => (r.gpuMs ?? r.wallMs)?.median;

export const limitsOf = (b: Baselines): Limits => ({ gbps: b.copy.gbps, gflops: b.fma.gflops, gops: b.fma.gops });
/** The limits a row's fractions are taken against: its own probes where it has them. */
const limitsFor = (row: Row, b: Baselines): Limits => row.local ?? limitsOf(b);

export function derive(row: Row, w: Work, b: Baselines): void {
  const ms = oursMs(row);
  for (const [k, v] of Object.entries(w)) if (v !== undefined) (row as unknown as Record<string, number>)[k] = v;
  if (!ms) return;
  const l = limitsFor(row, b);
  if (w.bytes) { row.gbps = w.bytes / (ms * 1e6); row.fracCopy = row.gbps / l.gbps; }
  if (w.flops) { row.gflops = w.flops / (ms * 1e6); row.fracFma = row.gflops / l.gflops; }
  if (w.ops !== undefined && w.bytes) {
    const bound = Math.max(w.bytes / (l.gbps * 1e6), w.ops / (l.gops * 1e6));
    row.fracRoofline = bound / ms;
  }
}

function derivePeer(row: Row, b: Baselines): void {
  const p = row.peer, l = limitsFor(row, b);
  if (p?.status !== 'ok') return;
  if (p.gbps !== undefined) p.fracCopy = p.gbps / l.gbps;
  if (p.gflops !== undefined) p.fracFma = p.gflops / l.gflops;
}

/** Recomputes fractions against final baselines, for rows without probes of their own. */
export function rederive(rows: Row[], b: Baselines): void {
  for (const r of rows) {
    if (r.status === 'ok') derive(r, { bytes: r.bytes, flops: r.flops, ops: r.ops, paramBytes: r.paramBytes }, b);
    derivePeer(r, b);
  }
}

/**
 * Measures one of our ops. `setup` makes the inputs (its tensors are disposed afterwards) and
 * returns the call to time; anything thrown becomes the row's status.
 */
export async function ours(ctx: Ctx, group: string, op: string, shape: string, w: Work,
  setup: () => Promise<{ call: () => unknown; inputs: Tensor[] }> | { call: () => unknown; inputs: Tensor[] }): Promise<Row> {
  const row: Row = { group, op, shape, status: 'ok' };
  let inputs: Tensor[] = [];
  try {
    const s = await setup();
    inputs = s.inputs;
    const before = await ctx.probe?.sample();
    const t = await measureOurs(ctx.rt, ctx.timer, ctx.budget, s.call);
    const after = await ctx.probe?.sample();
    if (before && after) {
      row.local = { gbps: Math.max(before.gbps, after.gbps), gflops: Math.max(before.gflops, after.gflops), gops: Math.max(before.gops, after.gops) };
    }
    row.wallMs = t.wallMs;
    if (t.gpuMs) row.gpuMs = t.gpuMs;
    derive(row, w, ctx.baselines);
  } catch (e) {
    row.status = statusOf(e);
    row.error = errorText(e);
    Object.assign(row, w);
  } finally {
    for (const t of inputs) t.dispose();
  }
  ctx.log(line(row));
  return row;
}

/** Measures the peer on the same work and attaches it (with the ratio) to the row. */
export async function withPeer(ctx: Ctx, row: Row, w: Work, run: (peer: Peer) => Promise<{ call: () => unknown; dispose: () => void }>): Promise<Row> {
  const peer = ctx.peer;
  if (!peer) {
    row.peer = { name: 'tfjs-webgpu', status: 'error', error: ctx.peerError ?? 'tfjs peer not loaded' };
    return row;
  }
  const f: PeerFigures = { name: 'tfjs-webgpu', status: 'ok' };
  let cleanup = () => {};
  try {
    const s = await run(peer);
    cleanup = s.dispose;
    const wall = await peer.time(ctx.budget, s.call as () => never);
    f.wallMs = wall;
    const ms = wall.median;
    if (w.bytes) f.gbps = w.bytes / (ms * 1e6);
    if (w.flops) f.gflops = w.flops / (ms * 1e6);
    if (row.status === 'ok' && row.wallMs) row.ratio = ms / row.wallMs.median;
  } catch (e) {
    f.status = statusOf(e);
    f.error = errorText(e);
  } finally {
    cleanup();
  }
  row.peer = f;
  derivePeer(row, ctx.baselines);
  ctx.log(`    tfjs: ${f.status === 'ok' ? `${f.wallMs!.median.toFixed(3)} ms${f.gflops ? ` ${f.gflops.toFixed(3)} GFLOP/s` : ''}${f.gbps ? ` ${f.gbps.toFixed(3)} GB/s` : ''}${row.ratio ? ` ratio ${row.ratio.toFixed(2)}×` : ''}` : `${f.status}: ${f.error}`}`);
  return row;
}

function line(r: Row): string {
  if (r.status !== 'ok') return `  ${r.op} ${r.shape}: ${r.status}${r.status === 'error' ? ` (${r.error})` : ''}`;
  const ms = oursMs(r)!;
  const parts = [`${ms.toFixed(3)} ms${r.gpuMs ? ' gpu' : ' wall'}`];
  if (r.gbps) parts.push(`${r.gbps.toFixed(3)} GB/s (${pct(r.fracCopy)} copy)`);
  if (r.gflops) parts.push(`${r.gflops.toFixed(3)} GFLOP/s (${pct(r.fracFma)} FMA)`);
  if (r.fracRoofline !== undefined) parts.push(`${pct(r.fracRoofline)} roofline`);
  return `  ${r.op} ${r.shape}: ${parts.join(', ')}`;
}
export const pct = (f: number | undefined): string => (f === undefined ? '-' : `${(100 * f).toFixed(f < 0.1 ? 2 : 1)}%`);

// ------------------------------------------------------------------ inputs
let seed = 12345;
/** Deterministic uniform [-1, 1) values (xorshift), cheap for large arrays. */
export function randArray(n: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    a[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  seed = s || 1;
  return a;
}

/** A tensor of random values; very large ones are zero-filled (timings do not depend on values). */
export function randTensor(rt: Runtime, shape: readonly number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return n > 16 * 2 ** 20 ? rt.zeros(shape) : rt.tensor(randArray(n), shape);
}

/** Fastfood parameters for `blocks` blocks of size d (the perm uploaded once, as a tensor). */
export function fastfoodParams(rt: Runtime, d: number, blocks: number, outFeatures: number): FastfoodParams & { tensors: Tensor[] } {
  const B = new Float32Array(blocks * d).map(() => (Math.random() < 0.5 ? -1 : 1));
  const G = randArray(blocks * d);
  const S = randArray(blocks * d).map((v) => 1 + 0.1 * v);
  const perm = new Uint32Array(blocks * d);
  for (let k = 0; k < blocks; k++) {
    const p = Array.from({ length: d }, (_, i) => i);
    for (let i = d - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [p[i], p[j]] = [p[j]!, p[i]!]; }
    perm.set(p, k * d);
  }
  const t = { B: rt.tensor(B, [blocks, d]), G: rt.tensor(G, [blocks, d]), S: rt.tensor(S, [blocks, d]), perm: rt.tensor(perm, [blocks, d]) };
  return { ...t, outFeatures, tensors: [t.B, t.G, t.S, t.perm] };
}

export const fmtShape = (s: readonly number[]): string => s.join('×');
