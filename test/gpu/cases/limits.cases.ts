// Limits: legal work past one dispatch's workgroup count is folded (and computed correctly); what
// cannot be done at all is an error naming the limit and the size asked for.
import { fastfoodInit } from '../../../src/nn/layers.js';
import { fastfoodBackwardRef, fastfoodRef } from '../../../src/reference/fastfood.js';
import { fwhtRef } from '../../../src/reference/fwht.js';
import { kernel, rw } from '../../../kernels/common.js';
import { seeded } from '../../../src/util/random.js';
import { createRuntime, type Runtime } from '../../../src/api.js';
import { encodeLinear, encodeLinearBackward } from '../../../src/ops/linear.js';
import { linearBackwardRef, linearRef } from '../../../src/reference/linear.js';
import { softmaxXentBackwardRef } from '../../../src/reference/softmax_xent.js';
import { Linear } from '../../../src/nn/layers.js';
import { Sequential } from '../../../src/nn/model.js';
import { compileTrainer } from '../../../src/nn/trainer.js';
import { provideNavigatorGpu } from '../../../src/gpu/acquire.js';
import { expectClose, expectThrows, loweredLimits, randn, runEncoded, withTuning, type GpuCase } from '../harness.js';

const U = 2 ** -24;
const isNode = typeof process !== 'undefined' && !!process.versions?.node;
const rms = (v: ArrayLike<number>) => { let s = 0; for (let i = 0; i < v.length; i++) s += v[i]! ** 2; return Math.sqrt(s / v.length); };
const tol = (ref: ArrayLike<number>, d: number, sums = 0) => ({ atol: 4 * U * (2 * Math.log2(d) + 3 + sums) * rms(ref), rtol: 0 });

export const limitsCases: GpuCase[] = [
  {
    name: 'limits: the paper\'s ImageNet FC6 as Fastfood (9216 → 16384) at batch 256, forward and backward (65,536-workgroup passes folded), match the float64 reference',
    // the training path's forward (multi-pass at this d): the split-row inference kernel takes
    // 15–50 s to compile on SwiftShader, and the d = 16384 sweep case covers it
    run: (rt0) => withTuning(rt0, { fastfood: { splitRows: false } }, async (rt) => {
      const n = 256, inF = 9216, outF = 16384;
      const f = fastfoodInit(inF, outF, seeded(6)), shape = [f.blocks, f.d];
      const xs = randn(n * inF, 61), dys = randn(n * outF, 62);
      const ref = { ...f, outFeatures: outF };
      const p = { B: rt.tensor(f.B, shape), G: rt.tensor(f.G, shape), S: rt.tensor(f.S, shape), perm: f.perm, outFeatures: outF };
      const x = rt.tensor(xs, [n, inF]), dy = rt.tensor(dys, [n, outF]);
      try {
        const y = rt.fastfood(x, p);
        const r = fastfoodRef(xs, n, inF, ref);
        expectClose(await y.read(), r.y, tol(r.y, f.d), 'FC6 y');
        const g = rt.fastfoodBackward(x, p, dy);
        const gr = fastfoodBackwardRef(xs, n, inF, ref, dys);
        expectClose(await g.dx.read(), gr.dx, tol(gr.dx, f.d, f.blocks), 'FC6 dx');
        for (const k of ['dB', 'dG', 'dS'] as const) expectClose(await g[k].read(), gr[k], tol(gr[k], f.d, n), `FC6 ${k}`);
        for (const t of [y, g.dx, g.dB, g.dG, g.dS]) t.dispose();
      } finally {
        for (const t of [x, dy, p.B, p.G, p.S]) t.dispose();
      }
    }),
  },
  {
    name: 'limits: a long FWHT batch (2^23 rows of 2) is folded and exact; sizes past the device\'s limits are errors naming the limit and the size; an allocation the device cannot back rejects once and the runtime goes on',
    async run(rt) {
      const d = 2, rows = 2 ** 23;
      const xs = randn(rows * d, 71), x = rt.tensor(xs, [rows, d]);
      const y = rt.fwht(x);
      expectClose(await y.read(), fwhtRef(xs, d), { atol: 4 * U * 2 * 4, rtol: 0 }, 'fwht of 2^23 rows');
      x.dispose(); y.dispose();
      const max = rt.limits.maxBufferSize;
      const elems = Math.floor(max / 4) + 1;
      await expectThrows(() => rt.empty([elems]), new RegExp(`needs ${elems * 4} bytes, over this device's limit \\(maxBufferSize ${max}\\)`), 'a tensor past the buffer limit');
      const w = rt.limits.maxComputeWorkgroupsPerDimension, over = w * w + 1;
      const k = kernel('noop', [rw('y')], [['n', 'u32']], '@compute @workgroup_size(1) fn main() { y[0] = 0.0; }');
      const one = rt.empty([1]);
      await expectThrows(() => runEncoded(rt, 'noop', () => [{ kernel: k, buffers: [one], params: { n: 1 }, workgroups: over }]),
        new RegExp(`${over} workgroups exceed this device's dispatch limit \\(${w}²\\)`), 'a dispatch past the workgroup limit');
      one.dispose();
      // an allocation the limits allow but the device may not back (Dawn's SwiftShader: maxBufferSize,
      // 1 GiB) rejects once, naming the cause; the work queued on that buffer is not reported again.
      // Node only: a browser may answer a 1 GiB allocation by losing the device, ending the page's cases.
      const most = Math.floor(rt.limits.maxBufferSize / 4);
      let huge: ReturnType<typeof rt.zeros> | undefined;
      if (isNode) try {
        huge = rt.zeros([most]);
        await rt.sync();
      } catch (e) {
        if (!/out of memory|OUT_OF_DEVICE_MEMORY/i.test(String(e))) throw e;
      } finally {
        huge?.dispose();
      }
      // the runtime computes correctly afterwards
      const a = rt.tensor(randn(64, 72), [1, 64]), b = rt.fwht(a);
      expectClose(await b.read(), fwhtRef(randn(64, 72), 64), { atol: 1e-5, rtol: 1e-5 }, 'fwht afterwards');
      a.dispose(); b.dispose();
    },
  },
  {
    name: 'limits: a linear weight larger than one binding is worked through in row blocks (forward with bias and ReLU, dx, dw, db vs float64; binding limit lowered to 64 or 128 rows: ragged last block, scalar and vec4 paths); none fitting is an error naming the limit',
    async run(rt) {
      const lowered = (bytes: number) => loweredLimits(rt, bytes);
      for (const [n, fin, fout, rows] of [[5, 37, 150, 64], [3, 64, 200, 128]] as const) {
        const xs = randn(n * fin, fin), ws = randn(fout * fin, fin + 1, 0.2), bs = randn(fout, fin + 2), dys = randn(n * fout, fin + 3);
        const x = rt.tensor(xs, [n, fin]), w = rt.tensor(ws, [fout, fin]), b = rt.tensor(bs, [fout]), dy = rt.tensor(dys, [n, fout]);
        const y = rt.empty([n, fout]), dx = rt.empty([n, fin]), dw = rt.empty([fout, fin]), db = rt.empty([fout]);
        const limits = lowered(rows * fin * 4 + 100);
        await runEncoded(rt, 'linear in blocks', (ctx) => [...encodeLinear({ ...ctx, limits }, x, w, b, y, { relu: true }), ...encodeLinearBackward({ ...ctx, limits }, x, w, dy, { dx, dw, db })]);
        const t = { atol: 2e-6 * Math.max(fin, fout, n), rtol: 1e-4 }, r = linearBackwardRef(xs, ws, dys, n, fin, fout);
        expectClose(await y.read(), linearRef(xs, ws, bs, n, fin, fout, true), t, `${fin}→${fout} relu(y)`);
        expectClose(await dx.read(), r.dx, t, `${fin}→${fout} dx`);
        expectClose(await dw.read(), r.dw, t, `${fin}→${fout} dw`);
        expectClose(await db.read(), r.db, t, `${fin}→${fout} db`);
        await expectThrows(() => runEncoded(rt, 'linear', (ctx) => encodeLinear({ ...ctx, limits: lowered(fin * 4 * 8) }, x, w, b, y)),
          new RegExp(`linear: w \\[${fout}, ${fin}\\] is ${fout * fin * 4} bytes, over this device's limit \\(maxStorageBufferBindingSize ${fin * 32}\\)`), 'no block fits');
        for (const v of [x, w, b, dy, y, dx, dw, db]) v.dispose();
      }
    },
  },
  {
    // Node only: 8 s of 134 MB uploads and reads; Chrome binds by the same WebGPU rules, and the
    // case above runs the same block code there (the Chrome file is npm test's longest).
    name: 'limits (Node): on a device with default limits (128 MiB bindings), a 134 MB linear weight (8192 → 4100) runs forward and backward against float64, and a Linear layer of that size takes a compiled SGD step matching float64; a kernel binding it whole is an error naming the binding and the limit',
    async run() {
      if (!isNode) return;
      await provideNavigatorGpu(); // Node: Dawn's navigator.gpu (a no-op in a browser)
      const adapter = await navigator.gpu.requestAdapter();
      if (!adapter) throw new Error('no adapter');
      const device = await adapter.requestDevice(); // default limits
      let rt: Runtime | undefined;
      try {
        rt = await createRuntime({ device });
        const n = 2, fin = 8192, fout = 4100, lim = device.limits.maxStorageBufferBindingSize;
        if (fout * fin * 4 <= lim) throw new Error(`expected a default binding limit under ${fout * fin * 4} bytes, got ${lim}`);
        const ws = new Float32Array(fout * fin);
        for (let i = 0; i < ws.length; i++) ws[i] = ((i * 7919) % 1999 - 999) * 2e-5;
        const xs = randn(n * fin, 81), bs = randn(fout, 82), dys = randn(n * fout, 83);
        const x = rt.tensor(xs, [n, fin]), w = rt.tensor(ws, [fout, fin]), b = rt.tensor(bs, [fout]), dy = rt.tensor(dys, [n, fout]);
        const t = { atol: 2e-6 * 300, rtol: 1e-4 };
        const y = rt.linear(x, w, b), yr = linearRef(xs, ws, bs, n, fin, fout);
        expectClose(await y.read(), yr, t, 'y');
        const g = rt.linearBackward(x, w, dy), r = linearBackwardRef(xs, ws, dys, n, fin, fout);
        expectClose(await g.dx.read(), r.dx, t, 'dx');
        // dw: every 61st row and the rows around the block edge (4096), not all 33.6 M values (seconds)
        const dw = await g.dw.read(), rows = [...Array.from({ length: 68 }, (_, i) => i * 61), 4094, 4095, 4096, 4097, 4099];
        const pick = (a: ArrayLike<number>) => Float64Array.from(rows.flatMap((o) => Array.from({ length: fin }, (_, i) => a[o * fin + i]!)));
        expectClose(pick(dw), pick(r.dw), t, 'dw rows');
        expectClose(await g.db.read(), r.db, t, 'db');
        for (const v of [g.dx, g.dw, g.db]) v.dispose();
        await expectThrows(() => rt!.relu(w), new RegExp(`relu: kernel relu\\w* binds ${fout * fin * 4} bytes as "x", over this device's limit \\(maxStorageBufferBindingSize ${lim}\\)`), 'a whole binding past the limit');
        expectClose(await rt.linear(x, w, b).read(), yr, t, 'y afterwards');
        for (const v of [x, w, b, dy, y]) v.dispose();
        // the Linear layer trains: one compiled SGD step (dw and the update a block at a time) vs float64
        const model = new Sequential([new Linear(fin, fout)], [fin], 'wide').init(rt, 5);
        const L = model.layers[0] as Linear, w0 = await L.w.value.read(), b0 = await L.b.value.read();
        const trainer = await compileTrainer(rt, model, { batch: n, optimizer: { kind: 'sgd', lr: 0.5, momentum: 0.9 } });
        const labels = Int32Array.from([7, 4099]), lr = 0.5;
        await trainer.step(xs, labels);
        const dz = softmaxXentBackwardRef(linearRef(xs, w0, b0, n, fin, fout), labels, n, fout);
        const w1 = await L.w.value.read(), b1 = await L.b.value.read();
        const wRows = [7, 4099, 0, 4095, 4096, 3000];
        const wRef = Float64Array.from(wRows.flatMap((o) => Array.from({ length: fin }, (_, i) => w0[o * fin + i]! - lr * (dz[o]! * xs[i]! + dz[fout + o]! * xs[fin + i]!))));
        const wGot = Float64Array.from(wRows.flatMap((o) => Array.from(w1.subarray(o * fin, (o + 1) * fin))));
        expectClose(wGot, wRef, { atol: 2e-6, rtol: 1e-5 }, 'trained w rows (labels 7 and 4099 on each side of the block edge)');
        expectClose(b1, Float64Array.from(b0, (v, o) => v - lr * (dz[o]! + dz[fout + o]!)), { atol: 2e-6, rtol: 1e-5 }, 'trained b');
        trainer.destroy();
        model.dispose();
      } finally {
        rt?.destroy();
        device.destroy();
      }
    },
  },
];
