// Eager-op overhead: what the runtime's queue costs an op on top of recording the same dispatches
// by hand. Wall time per op, caches warm (pipelines compiled, buffers pooled), against a floor:
// the same dispatches recorded with rt.record() into one caller-owned command encoder, submitted
// by the caller, and read back the same way (copy to a MAP_READ buffer, map it): the least any
// caller of these kernels pays for the same work and the same answer on the host.
//
//  (a) 300 chained rt.relu on a [1, 256] tensor (each on the previous result), read once at the
//      end. Floor: one rt.record call of 300 encodeRelu dispatches, ping-pong over two caller
//      tensors, one encoder, one submit. Also shown: one rt.record call per relu (300 calls into
//      the same encoder: a bind step, a uniform buffer and a compute pass each), which is what a
//      framework recording op by op pays.
//  (b) the MNIST conv2 on one image, one awaited call (`await rt.conv2d(x, w, b).read()`).
//      Floor: one rt.record call of encodeConv2d into a caller tensor, one submit, one read.
//
// The variants alternate within each repetition, so a load swing of the shared machine moves them
// all; "× floor" is the median over repetitions of (variant ÷ floor in that repetition). The GPU
// timer is off for the group: it would split every batch into a pass per dispatch.
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
  reluFloor: `relu ×${RELU_CHAIN} (floor: one rt.record, one encoder)`,
  reluPerOp: `relu ×${RELU_CHAIN} (rt.record per op, one encoder)`,
  convEager: 'conv2d (eager, awaited read)',
  convFloor: 'conv2d (floor: rt.record, one encoder)',
} as const;

export async function overheadGroup(ctx: Ctx): Promise<Row[]> {
  const rt = ctx.rt;
  const timer = rt.passTimer;
  rt.passTimer = null;
  try {
    return [
      ...(await variants(ctx, `${RELU_CHAIN} chained on ${fmtShape(RELU_SHAPE)}`, RELU_CHAIN, () => reluCase(rt),
        [OVERHEAD_OPS.reluEager, OVERHEAD_OPS.reluFloor, OVERHEAD_OPS.reluPerOp])),
      ...(await variants(ctx, `mnist conv2: ${fmtShape(CONV.x)} ⊛ ${fmtShape(CONV.w)} + bias`, 1, () => convCase(rt),
        [OVERHEAD_OPS.convEager, OVERHEAD_OPS.convFloor])),
    ];
  } finally {
    rt.passTimer = timer;
  }
}

interface Case {
  /** One round of each variant (ours first, the floor second), each resolving once the result
   * is on the host. */
  runs: (() => Promise<void>)[];
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
  /** The i-th relu of the chain over the caller's tensors: a → b, b → a, … */
  const step = (i: number) => (i % 2 ? encodeRelu(b, a) : encodeRelu(a, b));
  const last = RELU_CHAIN % 2 ? b : a;
  const submitAndRead = async (encoder: GPUCommandEncoder) => {
    const read = readback(rt, encoder, last.buffer, last.byteLength);
    device.queue.submit([encoder.finish()]);
    await read();
  };
  return {
    runs: [
      async () => {
        const made: Tensor[] = [];
        let y = x;
        for (let i = 0; i < RELU_CHAIN; i++) { y = rt.relu(y); made.push(y); }
        try {
          await y.read();
        } finally {
          for (const t of made) t.dispose();
        }
      },
      async () => {
        const encoder = device.createCommandEncoder({ label: 'overhead floor' });
        const rec = await rt.record(encoder, 'relu floor', () => Array.from({ length: RELU_CHAIN }, (_, i) => step(i)).flat());
        try {
          await submitAndRead(encoder);
        } finally {
          rec.release();
        }
      },
      async () => {
        const encoder = device.createCommandEncoder({ label: 'overhead per-op record' });
        const recs: { release(): void }[] = [];
        try {
          for (let i = 0; i < RELU_CHAIN; i++) recs.push(await rt.record(encoder, 'relu per op', () => step(i)));
          await submitAndRead(encoder);
        } finally {
          for (const r of recs) r.release();
        }
      },
    ],
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
    runs: [
      async () => {
        const out = rt.conv2d(x, w, bias, CONV.opts);
        try {
          await out.read();
        } finally {
          out.dispose();
        }
      },
      async () => {
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
    ],
    dispose() { for (const t of [x, w, bias, y]) t.dispose(); },
  };
}

/** Times the case's variants (named by `ops`, ours first, the floor second), alternating,
 * `perRound` ops per round: a row for each, every row but the floor's carrying the floor's time
 * and its ratio to it (extra.floorMs, extra.timesFloor). */
async function variants(ctx: Ctx, shape: string, perRound: number, make: () => Case, ops: readonly string[]): Promise<Row[]> {
  const rows = ops.map((op): Row => ({ group: 'overhead', op, shape, status: 'ok' }));
  let c: Case | null = null;
  try {
    c = make();
    if (c.runs.length !== ops.length) throw new Error(`overhead: ${ops.length} names for ${c.runs.length} variants`);
    // warm-up: pipelines compile, the pool fills; the last round estimates a round's length
    let est = 0;
    for (let k = 0; k < 3; k++) {
      const t = now();
      for (const run of c.runs) await run();
      est = (now() - t) / c.runs.length;
    }
    const inner = innerCalls(est, ctx.budget);
    const reps = Math.max(ctx.quick ? 5 : 11, repsFor(c.runs.length * est * inner, ctx.budget));
    const times: number[][] = c.runs.map(() => []);
    for (let r = 0; r < reps; r++) {
      for (const [k, run] of c.runs.entries()) {
        const t = now();
        for (let i = 0; i < inner; i++) await run();
        times[k]!.push((now() - t) / inner / perRound);
      }
    }
    const floor = times[1]!;
    rows.forEach((row, k) => {
      row.wallMs = stat(times[k]!);
      row.extra = { opsPerRound: perRound, callsPerRep: inner };
      if (k !== 1) Object.assign(row.extra, { floorMs: stat(floor).median, timesFloor: stat(times[k]!.map((o, i) => o / floor[i]!)).median });
    });
  } catch (e) {
    for (const r of rows) { r.status = statusOf(e); r.error = errorText(e); }
  } finally {
    c?.dispose();
  }
  for (const r of rows) {
    ctx.log(r.status === 'ok'
      ? `  ${r.op} ${shape}: ${fmtMs(r.wallMs!)} per op${typeof r.extra?.timesFloor === 'number' ? `, ${r.extra.timesFloor.toFixed(2)}× the floor` : ''}`
      : `  ${r.op} ${shape}: ${r.status} (${r.error})`);
  }
  return rows;
}

const fmtMs = (s: Stat): string => `${s.median.toFixed(4)} ms [${s.min.toFixed(4)}–${s.max.toFixed(4)}]`;
