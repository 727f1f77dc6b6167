// Eager-op overhead: what the runtime's queue costs an op on top of recording the same dispatches
// by hand. Wall time per op, caches warm (pipelines compiled, buffers pooled), against a floor:
// the same dispatches recorded with rt.record() into one caller-owned command encoder, submitted
// by the caller, and read back the same way (copy to a MAP_READ buffer, map it): the least any
// caller of these kernels pays for the same work and the same answer on the host.
//
//  (a) 300 chained rt.relu on a [1, 256] tensor (each on the previous result), read once at the
//      end. Floor: 300 rt.record calls of encodeRelu, ping-pong over two caller tensors, into one
//      encoder; one submit.
//  (b) the MNIST conv2 on one image, one awaited call (`await rt.conv2d(x, w, b).read()`).
//      Floor: one rt.record call of encodeConv2d into a caller tensor, one submit, one read.
//
// Ours and the floor alternate within each repetition, so a load swing of the shared machine moves
// both. The GPU timer is off for the group: it would split every batch into a pass per dispatch.
import { encodeConv2d } from '../../src/ops/conv2d.js';
import { encodeRelu } from '../../src/ops/elementwise.js';
import type { Runtime } from '../../src/api.js';
import type { Tensor } from '../../src/gpu/runtime.js';
import { fmtShape, randArray, statusOf, type Ctx } from '../lib/context.js';
import { errorText } from '../lib/measure.js';
import { innerCalls, now, repsFor, stat } from '../lib/stats.js';
import type { Row, Stat } from '../lib/types.js';

export const RELU_CHAIN = 300;
const RELU_SHAPE = [1, 256] as const;
const CONV = { x: [1, 20, 12, 12], w: [50, 20, 5, 5], b: [50], y: [1, 50, 8, 8], opts: { stride: 1, padding: 0 } } as const;

export const OVERHEAD_OPS = {
  reluEager: `relu ×${RELU_CHAIN} (eager, one read)`,
  reluFloor: `relu ×${RELU_CHAIN} (floor: rt.record, one encoder)`,
  convEager: 'conv2d (eager, awaited read)',
  convFloor: 'conv2d (floor: rt.record, one encoder)',
} as const;

export async function overheadGroup(ctx: Ctx): Promise<Row[]> {
  const rt = ctx.rt;
  const timer = rt.passTimer;
  rt.passTimer = null;
  try {
    return [
      ...(await pair(ctx, OVERHEAD_OPS.reluEager, OVERHEAD_OPS.reluFloor, `${RELU_CHAIN} chained on ${fmtShape(RELU_SHAPE)}`, RELU_CHAIN, () => reluCase(rt))),
      ...(await pair(ctx, OVERHEAD_OPS.convEager, OVERHEAD_OPS.convFloor,
        `mnist conv2: ${fmtShape(CONV.x)} ⊛ ${fmtShape(CONV.w)} + bias`, 1, () => convCase(rt))),
    ];
  } finally {
    rt.passTimer = timer;
  }
}

interface Case {
  /** One round of ours, resolving once the result is on the host. */
  ours(): Promise<void>;
  /** One round of the floor, the same. */
  floor(): Promise<void>;
  dispose(): void;
}

/** Reads a caller's buffer back the way rt.read does: a copy at the end of the encoder into a
 * MAP_READ buffer, mapped after the submit. */
function readback(rt: Runtime, encoder: GPUCommandEncoder, src: GPUBuffer, bytes: number): () => Promise<void> {
  const staging = rt.createBuffer({ label: 'overhead floor staging', size: bytes, usage: 0x1 /* MAP_READ */ | 0x8 /* COPY_DST */ });
  encoder.copyBufferToBuffer(src, 0, staging, 0, bytes);
  return async () => {
    try {
      await staging.mapAsync(1 /* GPUMapMode.READ */);
      staging.getMappedRange().slice(0);
      staging.unmap();
    } finally {
      staging.destroy();
    }
  };
}

function reluCase(rt: Runtime): Case {
  const x = rt.tensor(randArray(256), RELU_SHAPE);
  const a = rt.tensor(randArray(256), RELU_SHAPE), b = rt.empty(RELU_SHAPE, 'f32', 'overhead ping-pong');
  const device = rt.device;
  return {
    async ours() {
      const made: Tensor[] = [];
      let y = x;
      for (let i = 0; i < RELU_CHAIN; i++) { y = rt.relu(y); made.push(y); }
      try {
        await y.read();
      } finally {
        for (const t of made) t.dispose();
      }
    },
    async floor() {
      const encoder = device.createCommandEncoder({ label: 'overhead floor' });
      const recs: { release(): void }[] = [];
      try {
        for (let i = 0; i < RELU_CHAIN; i++) {
          const [src, dst] = i % 2 ? [b, a] : [a, b];
          recs.push(await rt.record(encoder, 'relu floor', () => encodeRelu(src, dst)));
        }
        const last = RELU_CHAIN % 2 ? b : a;
        const read = readback(rt, encoder, last.buffer, last.byteLength);
        device.queue.submit([encoder.finish()]);
        await read();
      } finally {
        for (const r of recs) r.release();
      }
    },
    dispose() { for (const t of [x, a, b]) t.dispose(); },
  };
}

function convCase(rt: Runtime): Case {
  const size = (s: readonly number[]) => s.reduce((p, q) => p * q, 1);
  const x = rt.tensor(randArray(size(CONV.x)), CONV.x);
  const w = rt.tensor(randArray(size(CONV.w)).map((v) => 0.1 * v), CONV.w);
  const bias = rt.tensor(randArray(size(CONV.b)), CONV.b);
  const y = rt.empty(CONV.y, 'f32', 'overhead conv y');
  const device = rt.device;
  return {
    async ours() {
      const out = rt.conv2d(x, w, bias, CONV.opts);
      try {
        await out.read();
      } finally {
        out.dispose();
      }
    },
    async floor() {
      const encoder = device.createCommandEncoder({ label: 'overhead floor' });
      const rec = await rt.record(encoder, 'conv2d floor', (c) => encodeConv2d(c, x, w, bias, y, CONV.opts));
      try {
        const read = readback(rt, encoder, y.buffer, y.byteLength);
        device.queue.submit([encoder.finish()]);
        await read();
      } finally {
        rec.release();
      }
    },
    dispose() { for (const t of [x, w, bias, y]) t.dispose(); },
  };
}

/** Times ours and the floor, alternating, `perRound` ops per round; returns a row for each, ours
 * carrying the floor's time and the ratio (extra.floorMs, extra.timesFloor). */
async function pair(ctx: Ctx, opOurs: string, opFloor: string, shape: string, perRound: number, make: () => Case): Promise<Row[]> {
  const rowOurs: Row = { group: 'overhead', op: opOurs, shape, status: 'ok' };
  const rowFloor: Row = { group: 'overhead', op: opFloor, shape, status: 'ok' };
  let c: Case | null = null;
  try {
    c = make();
    // warm-up: pipelines compile, the pool fills; the second round estimates a round's length
    for (let i = 0; i < 2; i++) { await c.ours(); await c.floor(); }
    const t0 = now();
    await c.ours();
    await c.floor();
    const est = (now() - t0) / 2;
    const inner = innerCalls(est, ctx.budget);
    const reps = Math.max(ctx.quick ? 3 : 9, repsFor(2 * est * inner, ctx.budget));
    const ours: number[] = [], floor: number[] = [];
    for (let r = 0; r < reps; r++) {
      let t = now();
      for (let i = 0; i < inner; i++) await c.ours();
      ours.push((now() - t) / inner / perRound);
      t = now();
      for (let i = 0; i < inner; i++) await c.floor();
      floor.push((now() - t) / inner / perRound);
    }
    rowOurs.wallMs = stat(ours);
    rowFloor.wallMs = stat(floor);
    const extra = { opsPerRound: perRound, callsPerRep: inner };
    rowFloor.extra = { ...extra };
    rowOurs.extra = { ...extra, floorMs: rowFloor.wallMs.median, timesFloor: ratioOf(ours, floor) };
  } catch (e) {
    for (const r of [rowOurs, rowFloor]) { r.status = statusOf(e); r.error = errorText(e); }
  } finally {
    c?.dispose();
  }
  ctx.log(rowOurs.status === 'ok'
    ? `  ${shape}: ours ${fmtMs(rowOurs.wallMs!)} per op, floor ${fmtMs(rowFloor.wallMs!)} per op, ours ÷ floor ${(rowOurs.extra!.timesFloor as number).toFixed(2)}×`
    : `  ${shape}: ${rowOurs.status} (${rowOurs.error})`);
  return [rowOurs, rowFloor];
}

/** Median over repetitions of ours ÷ floor within the repetition (they ran back to back). */
const ratioOf = (ours: number[], floor: number[]): number => stat(ours.map((o, i) => o / floor[i]!)).median;

const fmtMs = (s: Stat): string => `${s.median.toFixed(4)} ms [${s.min.toFixed(4)}–${s.max.toFixed(4)}]`;
