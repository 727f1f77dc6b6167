// The library around the kernels: chained ops on one queue, errors of queued work named at the
// next read, tidy, per-runtime tuning, kernel keys, predict and model configs.
import { createRuntime } from '../../../src/api.js';
import { kernel, ro, rw } from '../../../kernels/common.js';
import { matmulKernel, matmulVariant } from '../../../kernels/matmul.wgsl.js';
import { fwhtRowsKernel } from '../../../kernels/fwht.wgsl.js';
import { reluKernel } from '../../../kernels/elementwise.wgsl.js';
import { convTileKernel } from '../../../kernels/conv2d.wgsl.js';
import { Conv2d, Dropout, Fastfood, Flatten, Linear, MaxPool2d, ReLU } from '../../../src/nn/layers.js';
import { mnistModel, Sequential } from '../../../src/nn/model.js';
import { compileTrainer } from '../../../src/nn/trainer.js';
import { reluRef } from '../../../src/reference/elementwise.js';
import { expectClose, expectEqual, expectThrows, randn, type GpuCase } from '../harness.js';

export const libraryCases: GpuCase[] = [
  {
    name: 'errors: arguments the fuzzer found unchecked are named (pool/relu backward dtypes, a missing x, a bias or opts of the wrong kind, another runtime\'s x)',
    async run(rt) {
      const x = rt.tensor(randn(16, 3), [1, 1, 4, 4]), w = rt.tensor(randn(9, 4), [1, 1, 3, 3]);
      const i32 = rt.tensor(new Int32Array(4), [1, 1, 2, 2]), i32x = rt.tensor(new Int32Array(16), [1, 1, 4, 4]);
      const other = await createRuntime({ device: rt.device });
      try {
        const ox = other.tensor(randn(16, 3), [1, 1, 4, 4]);
        const dy = rt.tensor(randn(4, 5), [1, 1, 2, 2]);
        const cases: [string, () => unknown, RegExp][] = [
          ['maxPool2dBackward i32 dy', () => rt.maxPool2dBackward(x, i32, { kernel: 2 }), /maxPool2dBackward: dy must be f32, got i32/],
          ['avgPool2dBackward i32 dy', () => rt.avgPool2dBackward(x, i32, { kernel: 2 }), /avgPool2dBackward: dy must be f32, got i32/],
          ['reluBackward i32 dy', () => rt.reluBackward(x, i32x), /reluBackward: dy must be f32, got i32/],
          ['relu(null)', () => rt.relu(null as never), /relu: x must be a tensor, got null/],
          ['conv2d b undefined', () => rt.conv2d(x, w, undefined as never), /conv2d: b must be a tensor \[Cout\] or null \(no bias\), got undefined/],
          ['conv2d b 0', () => rt.conv2d(x, w, 0 as never), /conv2d: b must be a tensor .* got number/],
          ['conv2d opts null', () => rt.conv2d(x, w, null, null as never), /conv2d: opts must be an object/],
          ['avgPool2dBackward another runtime\'s x', () => rt.avgPool2dBackward(ox, dy, { kernel: 2 }), /avgPool2dBackward: x \[1,1,4,4\] belongs to another runtime/],
        ];
        for (const [what, f, re] of cases) await expectThrows(f, re, what);
        dy.dispose();
      } finally {
        other.destroy();
      }
      const y = rt.relu(x);
      expectClose(await y.read(), reluRef(randn(16, 3)), { atol: 0, rtol: 0 }, 'relu afterwards');
      for (const t of [x, w, i32, i32x, y]) t.dispose();
    },
  },
  {
    name: 'lifetimes: a model disposed while its prediction is still queued: the prediction completes, nothing errs, the buffers are freed after the submit',
    async run(rt) {
      await rt.sync();
      const live = rt.stats().liveBuffers - rt.stats().pooledBuffers;
      const model = new Sequential([new Flatten(), new Linear(16, 3)], [1, 4, 4]).init(rt, 2);
      const x = rt.tensor(randn(16, 9), [1, 1, 4, 4]);
      const y0 = model.predict(x), first = await y0.read();
      const y = model.predict(x); // queued, not submitted
      model.dispose();            // as a page does when the user loads another model
      expectClose(await y.read(), first, { atol: 0, rtol: 0 }, 'the queued prediction');
      const z = rt.relu(x);
      await z.read();             // the next read does not throw a destroyed graph's error
      for (const t of [x, y0, y, z]) t.dispose();
      await rt.sync();
      expectEqual(rt.stats().liveBuffers - rt.stats().pooledBuffers, live, 'buffers in use afterwards');
    },
  },
  {
    name: 'queue: 300 chained ops return tensors at once and go to the GPU in a few submits; read() gives the float64 result',
    async run(rt) {
      const xs = randn(256, 1);
      const x = rt.tensor(xs, [1, 256]);
      await rt.sync();
      let y = x;
      const made = [];
      for (let i = 0; i < 300; i++) { y = rt.relu(rt.fwht(y, { scale: 1 / 16 })); made.push(y); }
      expectEqual(rt.stats().queued > 0, true, 'work is queued, not submitted, before read()');
      // H/16 is an involution on rows of 256 (H·H = 256·I), so an even number of steps gives back
      // relu-chains of x; the float64 reference replays the same chain
      let ref = Float64Array.from(xs);
      const h = (v: Float64Array) => Float64Array.from(v, (_, i) => v.reduce((a, b, j) => a + b * (popcount(i & j) % 2 ? -1 : 1), 0) / 16);
      for (let i = 0; i < 300; i++) ref = Float64Array.from(reluRef(h(ref)));
      expectClose(await y.read(), ref, { atol: 1e-4, rtol: 1e-4 }, '300 chained fwht+relu');
      expectEqual(rt.stats().queued, 0, 'read() submitted the queue');
      for (const t of [x, ...made]) t.dispose();
    },
  },
  {
    name: 'queue: a GPU-side error of queued work rejects the next read() naming its op; the runtime computes correctly afterwards',
    async run(rt) {
      const bad = kernel('broken_queued', [rw('y')], [['n', 'u32']], `@compute @workgroup_size(64) fn main() { let q: f32 = not_defined; }`);
      const y = rt.empty([4]);
      rt.op('my broken op', () => ({}), () => [{ kernel: bad, buffers: [y], params: { n: 4 }, workgroups: 1 }]);
      const z = rt.relu(rt.tensor(new Float32Array([1, -2, 3, -4]), [4]));
      await expectThrows(() => z.read(), /broken_queued" does not compile/, 'read after a broken kernel');
      // a validation error (one buffer bound read-only and read-write in one dispatch) names the op
      const a = rt.tensor(new Float32Array(8).fill(1), [8]);
      const twice = kernel('twice_bound', [rw('p'), ro('q')], [['n', 'u32']], `@compute @workgroup_size(8) fn main(@builtin(local_invocation_index) i: u32) { p[i] = q[i] + 1.0; }`);
      rt.op('aliasing op', () => ({}), () => [{ kernel: twice, buffers: [a, a], params: { n: 8 }, workgroups: 1 }]);
      await expectThrows(() => rt.sync(), /aliasing op: WebGPU validation error/, 'validation error names the op');
      const w = rt.relu(rt.tensor(new Float32Array([1, -2, 3, -4]), [4]));
      expectEqual(Array.from(await w.read()), [1, 0, 3, 0], 'relu after the errors');
      for (const t of [y, z, a, w]) t.dispose();
    },
  },
  {
    name: 'queue: argument errors throw at the call and queue nothing; disposing inputs of queued work is safe',
    async run(rt) {
      await rt.sync();
      const x = rt.tensor(new Float32Array(6), [2, 3]), w = rt.tensor(new Float32Array(8), [2, 4]);
      const before = rt.stats().queued;
      let threw = false;
      try { rt.linear(x, w, null); } catch (e) { threw = /x has 3 features but w \[2,4\] expects 4/.test((e as Error).message); }
      expectEqual([threw, rt.stats().queued], [true, before], 'synchronous error, nothing queued');
      const xs = randn(64, 9), src = rt.tensor(xs, [64]);
      const y = rt.relu(src);
      src.dispose(); // queued work still reads it: its buffer is pooled only after the submit
      const other = rt.tensor(new Float32Array(64).fill(7), [64]); // must not receive src's buffer before the relu ran
      expectClose(await y.read(), reluRef(xs), { atol: 0, rtol: 0 }, 'relu of a disposed input');
      expectEqual(Array.from(await other.read()).every((v) => v === 7), true, 'a new tensor is not overwritten by queued work');
      const other2 = await createRuntime({ device: rt.device });
      const foreign = other2.tensor(new Float32Array(4), [4]);
      await expectThrows(() => rt.relu(foreign), /another runtime/, 'a tensor of another runtime');
      other2.destroy();
      for (const t of [x, w, y, other]) t.dispose();
    },
  },
  {
    name: 'tidy: disposes what the function made except what it returns (nested, and on a throw)',
    async run(rt) {
      await rt.sync();
      const inUse = () => rt.stats().liveBuffers - rt.stats().pooledBuffers;
      const x = rt.tensor(randn(64, 2), [64]);
      await rt.sync();
      const start = inUse();
      const kept = rt.tidy(() => {
        const a = rt.relu(x);
        const inner = rt.tidy(() => { const b = rt.relu(a); rt.relu(b); return { b }; });
        rt.relu(inner.b);
        return [inner.b, rt.keep(rt.relu(a))];
      });
      await rt.sync();
      expectEqual(inUse(), start + 2, 'buffers in use: the two returned tensors only');
      expectEqual(kept.map((t) => t.disposed), [false, false], 'returned tensors live');
      await expectThrows(() => rt.tidy(() => { rt.relu(x); throw new Error('boom'); }), /boom/, 'throw inside tidy');
      await expectThrows(() => rt.tidy(async () => rt.relu(x)), /tidy\(fn\) takes a synchronous function/, 'async fn');
      await rt.sync();
      expectEqual(inUse(), start + 2, 'nothing left by the throwing tidy');
      for (const t of [x, ...kept]) t.dispose();
    },
  },
  {
    name: 'tuning: two runtimes in one process with different tunings each run their own kernels; bad tuning is named',
    async run(rt) {
      const gemm = await createRuntime({ device: rt.device, tuning: { conv: { backward: 'gemm' }, matmul: { maxTile: 16 } } });
      const direct = await createRuntime({ device: rt.device, tuning: { conv: { backward: 'direct' } } });
      try {
        expectEqual([gemm.tuning.conv.backward, direct.tuning.conv.backward, rt.tuning.conv.backward], ['gemm', 'direct', 'auto'], 'each runtime keeps its tuning');
        const xs = randn(2 * 20 * 12 * 12, 1), ws = randn(50 * 20 * 25, 2), dys = randn(2 * 50 * 64, 3);
        const grads = [], compiled = [];
        for (const r of [gemm, direct]) {
          const before = r.compiles;
          const g = r.conv2dBackward(r.tensor(xs, [2, 20, 12, 12]), r.tensor(ws, [50, 20, 5, 5]), r.tensor(dys, [2, 50, 8, 8]));
          grads.push(await g.dw.read());
          compiled.push(r.compiles - before);
        }
        expectClose(grads[0]!, grads[1]!, { atol: 1e-3, rtol: 1e-3 }, 'same dw by both paths');
        // the pipeline cache is the device's: the second runtime compiles only the kernels of its own path
        expectEqual(compiled.map((c) => c > 0), [true, true], 'each path compiled kernels the other did not use');
        await expectThrows(() => createRuntime({ device: rt.device, tuning: { conv: { backwards: 'gemm' } } as never }), /tuning\.conv\.backwards is not a tuning option/, 'unknown option');
        await expectThrows(() => createRuntime({ device: rt.device, tuning: { rows: { targetWorkgroups: '4' } } as never }), /tuning\.rows\.targetWorkgroups must be a number/, 'wrong type');
        await expectThrows(() => { (rt.tuning.rows as { targetWorkgroups: number }).targetWorkgroups = 1; }, /read only|read-only|Cannot assign/, 'tuning is frozen');
      } finally {
        gemm.destroy();
        direct.destroy();
      }
    },
  },
  {
    name: 'kernels: cached on name + variant key, WGSL built once per key; equal keys give equal WGSL; a second identical call compiles nothing',
    async run(rt) {
      const variants = [
        () => matmulKernel(matmulVariant('nt', 64, 64, 64, { bias: true })),
        () => matmulKernel(matmulVariant('tn', 50, 500, 64)),
        () => fwhtRowsKernel(1024, { maxRegisters: 32, swizzle: true, lanes: 0 }),
        () => fwhtRowsKernel(1024, { maxRegisters: 32, swizzle: false, lanes: 0 }),
        () => convTileKernel({ name: 'c', taps: [5, 5], inStride: [1, 1], tile: [4, 8, 4], tapStride: [5, 1], bias: true, relu: false }),
      ];
      const a = variants.map((v) => v()), b = variants.map((v) => v());
      expectEqual(a.map((k, i) => k === b[i]), a.map(() => true), 'the same instance for the same arguments (no regeneration)');
      expectEqual(new Set(a.map((k) => k.key)).size, a.length, 'different variants, different keys');
      const fresh = [matmulKernel.uncached(matmulVariant('nt', 64, 64, 64, { bias: true })), fwhtRowsKernel.uncached(1024, { maxRegisters: 32, swizzle: true, lanes: 0 })];
      expectEqual(fresh.map((k) => k.code), [a[0]!.code, a[2]!.code], 'rebuilt variants: equal keys, equal WGSL');
      const x = rt.tensor(randn(4 * 64, 5), [4, 64]), w = rt.tensor(randn(8 * 64, 6), [8, 64]);
      rt.linear(x, w, null).dispose();
      await rt.sync();
      const compiles = rt.compiles;
      const y = rt.linear(x, w, null);
      await rt.sync();
      expectEqual(rt.compiles, compiles, 'no compile on the second identical call');
      // params are packed by name: a missing or unknown field is named at the call, nothing queued
      const queued = rt.stats().queued;
      await expectThrows(() => rt.op('bad params', () => ({}), () => [{ kernel: reluKernel(), buffers: [x, y], params: { count: 4 }, workgroups: 1 }]), /kernel "relu" has no param count \(its params: n\)/, 'unknown param');
      await expectThrows(() => rt.op('bad params', () => ({}), () => [{ kernel: reluKernel(), buffers: [x, y], params: {}, workgroups: 1 }]), /kernel "relu" param n is missing/, 'missing param');
      await expectThrows(() => rt.op('bad params', () => ({}), () => [{ kernel: reluKernel(), buffers: [x, y], params: { n: -1 }, workgroups: 1 }]), /param n = -1 does not fit u32/, 'out of range');
      expectEqual(rt.stats().queued, queued, 'nothing queued by the bad calls');
      for (const t of [x, w, y]) t.dispose();
    },
  },
  {
    name: 'predict: logits of any batch (chunks and a remainder) equal the eval graph\'s; toConfig/fromConfig rebuild the architecture',
    async run(rt) {
      const model = new Sequential([new Conv2d(1, 4, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2), new Flatten(), new Fastfood(64, 100, { adaptive: true }), new ReLU(), new Dropout(0.5), new Linear(100, 3)], [1, 8, 8], 'tiny').init(rt, 4);
      const n = 300, xs = randn(n * 64, 8);
      const x = rt.tensor(xs, [n, 1, 8, 8]);
      const logits = model.predict(x);
      expectEqual(logits.shape, [n, 3], 'logits shape');
      const all = await logits.read();
      // the same rows one at a time and as a batch of 7 agree with the 256 + 44 chunks
      for (const [start, count] of [[0, 1], [255, 7], [299, 1]] as const) {
        const part = rt.tensor(xs.slice(start * 64, (start + count) * 64), [count, 1, 8, 8]);
        expectClose(await model.predict(part).read(), all.slice(start * 3, (start + count) * 3), { atol: 1e-5, rtol: 1e-5 }, `rows ${start}..${start + count}`);
        part.dispose();
      }
      const config = JSON.parse(JSON.stringify(model.toConfig()));
      const again = Sequential.fromConfig(config);
      expectEqual(again.toConfig(), model.toConfig(), 'fromConfig(toConfig()) round-trips');
      expectEqual(mnistModel('adaptive-fastfood-1024').toConfig().layers.map((l) => l.kind).join(), 'Conv2d,MaxPool2d,Conv2d,MaxPool2d,Flatten,AdaptiveFastfood,ReLU,Linear', 'paper net config');
      await expectThrows(() => model.predict(rt.tensor(new Float32Array(64), [1, 64])), /predict: x must have shape \[N, 1,8,8\], got \[1,64\]/, 'wrong input shape');
      await expectThrows(() => Sequential.fromConfig({ name: 'x', inputShape: [4], layers: [{ kind: 'Dense' } as never] }), /unknown kind "Dense"/, 'unknown layer kind');
      await expectThrows(() => new Sequential([new Linear(5, 2)], [4]), /x has 4 features but w \[2,5\] expects 5/, 'shapes checked at construction');
      // a trainer updates the parameters predict uses; training graphs and predict share one queue
      const trainer = await compileTrainer(rt, model, { batch: 20, optimizer: { kind: 'sgd', lr: 0.5 } });
      const lab = new Int32Array(20).map((_, i) => i % 3);
      await trainer.step(xs.slice(0, 20 * 64), lab);
      const after = await model.predict(x).read();
      expectEqual(after.some((v, i) => v !== all[i]), true, 'predict sees the trained parameters');
      trainer.destroy();
      x.dispose();
      model.dispose();
    },
  },
  {
    name: 'lifetimes: 1,000 eager training steps inside rt.tidy and 1,000 compiled steps keep live GPU buffers and bytes flat',
    async run(rt) {
      const held = () => { const s = rt.stats(); return [s.liveBuffers - s.pooledBuffers, s.liveBytes - s.pooledBytes]; };
      const xs = randn(8 * 16, 31), w0 = randn(4 * 16, 32);
      const x = rt.tensor(xs, [8, 16]), labels = rt.tensor(new Int32Array(8).map((_, i) => i % 4), [8]);
      let w = rt.tensor(w0, [4, 16]);
      await rt.sync();
      const counts: number[][] = [];
      for (let step = 1; step <= 1000; step++) {
        // forward, loss gradient and backward, all eager, then new weights (H·H/16 = I on rows of 16,
        // so they stay w0): only the new weights survive the tidy, and the old ones are disposed
        const old = w;
        w = rt.tidy(() => {
          const logits = rt.linear(x, old, null);
          rt.linearBackward(x, old, rt.softmaxCrossEntropyBackward(logits, labels));
          return rt.fwht(rt.fwht(old, { scale: 0.25 }), { scale: 0.25 });
        });
        old.dispose();
        if (step % 250 === 0) { await rt.sync(); counts.push(held()); }
      }
      expectClose(await w.read(), w0, { atol: 1e-4, rtol: 1e-4 }, 'weights after 1000 identity steps');
      expectEqual(counts.every((c) => c[0] === counts[0]![0] && c[1] === counts[0]![1]), true, `eager: buffers/bytes held every 250 steps ${JSON.stringify(counts)}`);
      // compiled steps
      const model = new Sequential([new Flatten(), new Linear(16, 4)], [1, 4, 4], 'tiny').init(rt, 3);
      const trainer = await compileTrainer(rt, model, { batch: 8, optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9 } });
      const lab = new Int32Array(8).map((_, i) => i % 4);
      const trained: number[][] = [];
      for (let step = 1; step <= 1000; step++) {
        await trainer.step(xs, lab);
        if (step % 250 === 0) { await trainer.stats(); await rt.sync(); trained.push(held()); }
      }
      expectEqual(trained.every((c) => c[0] === trained[0]![0] && c[1] === trained[0]![1]), true, `compiled: buffers/bytes held every 250 steps ${JSON.stringify(trained)}`);
      trainer.destroy();
      model.dispose();
      for (const t of [x, labels, w]) t.dispose();
    },
  },
];

function popcount(v: number): number {
  let c = 0;
  for (; v; v &= v - 1) c++;
  return c;
}
