// End to end: a few hundred real MNIST images through the compiled training step.
import { loadMnist, fillBatch } from '../../../src/data/mnist.js';
import { loadSafetensors, toSafetensors } from '../../../src/nn/safetensors.js';
import { mnistModel, Sequential, type MnistModelName } from '../../../src/nn/model.js';
import { fit, FIT_DEFAULTS, type FitEvent, type FitIO, type FitOptions } from '../../../src/nn/fit.js';
import { createRuntime, type Runtime } from '../../../src/api.js';
import type { Dataset } from '../../../src/data/mnist.js';
import { compileTrainer } from '../../../src/nn/trainer.js';
import { HYPER } from '../../../kernels/optim.wgsl.js';
import { GraphBuilder, type GraphValue } from '../../../src/graph/graph.js';
import { Conv2d, Dropout, Fastfood, Flatten, Linear, MaxPool2d, ReLU } from '../../../src/nn/layers.js';
import { expectClose, expectEqual, expectThrows, randn, type GpuCase } from '../harness.js';

/** fit() on a fresh paper net (initialised with opts.seed), disposed afterwards. */
async function fitNet(rt: Runtime, name: MnistModelName, train: Dataset, test: Dataset, opts: Partial<FitOptions>, io?: FitIO) {
  const model = mnistModel(name).init(rt, opts.seed ?? FIT_DEFAULTS.seed);
  try {
    return await fit(rt, model, train, test, opts, io);
  } finally {
    model.dispose();
  }
}

export const trainCases: GpuCase[] = [
  {
    name: 'train: adaptive-fastfood-1024 on 320 MNIST images — loss falls, buffer count flat, checkpoint round-trips',
    async run(rt) {
      const ds = await loadMnist('train', { limit: 320 });
      const model = mnistModel('adaptive-fastfood-1024').init(rt, 7);
      expectEqual(model.parameterCount, 25570 + 3 * 1024 + 10250, 'parameter count');
      const trainer = await compileTrainer(rt, model, { batch: 32, optimizer: { kind: 'sgd', lr: 0.02, momentum: 0.9, weightDecay: 5e-4 } });
      const x = new Float32Array(32 * 784), y = new Int32Array(32);
      const order = Uint32Array.from({ length: ds.count }, (_, i) => i);
      const losses: number[] = [];
      let buffers = -1;
      for (let epoch = 0; epoch < 4; epoch++) {
        for (let s = 0; s < 10; s++) {
          fillBatch(ds, order, s * 32, x, y);
          await trainer.step(x, y);
        }
        const st = await trainer.stats();
        if (!Number.isFinite(st.loss)) throw new Error(`loss is ${st.loss} in epoch ${epoch}`);
        losses.push(st.loss);
        const live = rt.stats().liveBuffers;
        if (epoch === 1) buffers = live;
        if (epoch > 1 && live !== buffers) throw new Error(`GPU buffer count changed across steps: ${buffers} → ${live}`);
      }
      if (!(losses[3]! < 0.6 * losses[0]!)) throw new Error(`loss did not fall: ${losses.map((l) => l.toFixed(3)).join(' → ')}`);

      // a checkpoint restores identical outputs in a fresh model
      const ev = await trainer.evaluate(ds, 64);
      const ckpt = await toSafetensors(model, { trainer });
      const model2 = mnistModel('adaptive-fastfood-1024').init(rt, 99);
      const t2 = await compileTrainer(rt, model2, { batch: 32, optimizer: { kind: 'sgd', lr: 0.02 } });
      loadSafetensors(model2, ckpt, { trainer: t2 });
      const ev2 = await t2.evaluate(ds, 64);
      expectClose([ev2.loss, ev2.error], [ev.loss, ev.error], { atol: 0, rtol: 0 }, 'restored evaluation');
      await expectThrows(() => loadSafetensors(mnistModel('reference').init(rt, 1), ckpt), /architectures? differ|model\.layers\[5\]/, 'wrong model');
      for (const t of [trainer, t2]) t.destroy();
      model.dispose();
      model2.dispose();
    },
  },
  {
    name: 'train: a non-finite input, a label out of range and a diverging run each throw naming the problem',
    async run(rt) {
      const model = mnistModel('reference').init(rt, 3);
      const trainer = await compileTrainer(rt, model, { batch: 4, optimizer: { kind: 'sgd', lr: 0.01 } });
      const x = new Float32Array(4 * 784), y = new Int32Array(4);
      x[5] = NaN;
      await expectThrows(() => trainer.step(x, y), /step\(\) x has a non-finite value \(NaN\) at index 5/, 'NaN input');
      x[5] = 0;
      y[2] = 10;
      await expectThrows(() => trainer.step(x, y), /step\(\) label 10 at index 2 is outside \[0, 10\)/, 'label out of range');
      trainer.destroy();
      model.dispose();
      const ds = await loadMnist('train', { limit: 64 });
      const inUse = () => rt.stats().liveBuffers - rt.stats().pooledBuffers;
      await rt.sync(); // buffers freed while work was queued are pooled once it is submitted
      const live = inUse();
      await expectThrows(() => fitNet(rt, 'reference', ds, ds, { batch: 16, lr: 1e9, logEvery: 1, evalEachEpoch: false }),
        /training diverged at step \d+: the first step whose loss is not finite \(the mean loss of steps \d+–\d+ is (NaN|-?Infinity).*on that step's batch: (layer \d+ \(\w+\) is the first whose output is not finite|every layer's output is finite).*\.$/, 'lr 1e9');
      await rt.sync();
      expectEqual(inUse(), live, 'GPU buffers in use after the diverged run (fit frees its trainer)');
    },
  },
  {
    name: 'train: a loss that goes non-finite names its step and the first layer whose output is not finite',
    async run(rt) {
      const model = mnistModel('adaptive-fastfood-1024').init(rt, 5);
      const trainer = await compileTrainer(rt, model, { batch: 4, optimizer: { kind: 'sgd', lr: 0.01 } });
      try {
        const ds = await loadMnist('train', { limit: 4 });
        for (let i = 0; i < 2; i++) await trainer.step(ds.images, ds.labels);
        // Infinity in the Fastfood layer's S (bypassing rt.write's check, as a bad kernel would)
        const S = model.layers[5]!.params.find((p) => p.name === 'S')!;
        const W = model.layers[7]!.params.find((p) => p.name === 'weight')!;
        await rt.sync();
        const w0 = await W.value.read();
        rt.device.queue.writeBuffer(S.value.buffer, 0, new Float32Array(1024).fill(Infinity));
        for (let i = 0; i < 2; i++) await trainer.step(ds.images, ds.labels);
        const st = await trainer.stats();
        expectEqual([st.steps, Number.isFinite(st.loss), st.firstNonFinite], [4, false, 3], 'stats: steps, finite loss, first non-finite step');
        expectEqual(Array.from(await W.value.read()), Array.from(w0), 'a later layer is untouched by the two skipped steps');
        const why = await trainer.diagnose(ds.images);
        if (!/on that step's batch: layer 5 \(AdaptiveFastfood\) is the first whose output is not finite \(\d+ of 4096 values\); parameters not finite: 5\.AdaptiveFastfood\.S \(1024 of 1024 values\)\.$/.test(why)) {
          throw new Error(`diagnose() said: ${why}`);
        }
        rt.device.queue.writeBuffer(S.value.buffer, 0, await (await trainer.model.layers[5]!.params.find((p) => p.name === 'G')!.value.read()).map(() => 1e-3));
        await trainer.step(ds.images, ds.labels);
        const ok = await trainer.stats();
        expectEqual([ok.steps, Number.isFinite(ok.loss), ok.firstNonFinite], [1, true, null], 'a finite step after the stats() call');
        if ((await W.value.read()).every((v, i) => v === w0[i])) throw new Error('the finite step did not update layer 7');
      } finally {
        trainer.destroy();
        model.dispose();
      }
    },
  },
  {
    name: 'train: a device lost in the middle of fit rejects within a second naming it; the last checkpoint is intact and resumes on a new runtime',
    async run(rt) {
      const ds = await loadMnist('train', { limit: 64 });
      const opts = { batch: 16, logEvery: 1, evalEachEpoch: false, epochs: 2 };
      const net = 'adaptive-fastfood-1024';
      const lost = await createRuntime(); // its own device, destroyed below
      const checkpoints: Uint8Array[] = [];
      let destroyedAt = 0;
      const unhandled: unknown[] = [];
      const onUnhandled = (e: unknown) => { unhandled.push(e); };
      const g = globalThis as { process?: { on(e: string, f: (e: unknown) => void): void; off(e: string, f: (e: unknown) => void): void }; addEventListener?: (e: string, f: (e: unknown) => void) => void; removeEventListener?: (e: string, f: (e: unknown) => void) => void };
      if (g.process?.on) g.process.on('unhandledRejection', onUnhandled); else g.addEventListener?.('unhandledrejection', onUnhandled);
      try {
        const model = mnistModel(net).init(lost, 1);
        const run = fit(lost, model, ds, ds, opts, {
          save: async (b) => { checkpoints.push(b.slice()); },
          onEvent: (e) => {
            // the middle of epoch 2: after epoch 1's checkpoint, with steps queued on the GPU
            if (e.kind === 'progress' && e.step === 6) { destroyedAt = performance.now(); lost.device.destroy(); }
          },
        });
        await expectThrows(() => run, /the GPU device was lost|device.*(lost|destroyed)/i, 'fit on a destroyed device');
        const ms = performance.now() - destroyedAt;
        if (!(destroyedAt > 0 && ms < 1000)) throw new Error(`fit rejected ${ms.toFixed(0)} ms after the device was destroyed (want < 1000)`);
        await new Promise((r) => setTimeout(r, 50));
        expectEqual(unhandled.length, 0, 'unhandled rejections');
        expectEqual(checkpoints.length, 1, 'checkpoints written before the loss (epoch 1)');
      } finally {
        if (g.process?.off) g.process.off('unhandledRejection', onUnhandled); else g.removeEventListener?.('unhandledrejection', onUnhandled);
        lost.destroy();
      }
      // the checkpoint resumes on a new runtime (here the test's) with the same parameters and
      // optimizer state, and continues exactly as an uninterrupted run would
      const model = mnistModel(net).init(rt, 99);
      const trainer = await compileTrainer(rt, model, { batch: 16, optimizer: { kind: 'sgd', lr: FIT_DEFAULTS.lr, momentum: FIT_DEFAULTS.momentum, weightDecay: FIT_DEFAULTS.weightDecay } });
      try {
        expectEqual(loadSafetensors(model, checkpoints[0]!, { trainer }), 4, 'resumed step');
        const again = await toSafetensors(model, { trainer });
        expectEqual(again.length === checkpoints[0]!.length && again.every((v, i) => v === checkpoints[0]![i]), true, 'parameters and optimizer state identical to the checkpoint');
      } finally {
        trainer.destroy();
        model.dispose();
      }
      const resumed = await fitNet(rt, net, ds, ds, opts, { resume: checkpoints[0] });
      const whole = await fitNet(rt, net, ds, ds, opts);
      expectEqual(resumed.testError, whole.testError, 'resumed run = uninterrupted run (test error)');
    },
  },
  {
    name: 'train: fit resumes from its checkpoint at the next step (start event, progress and result say so) and matches an uninterrupted run',
    async run(rt) {
      const ds = await loadMnist('train', { limit: 64 });
      const opts = { batch: 16, logEvery: 2, evalEachEpoch: true };
      const net = 'adaptive-fastfood-1024';
      let ckpt: Uint8Array | undefined;
      const first = await fitNet(rt, net, ds, ds, { ...opts, epochs: 1 }, { save: async (b) => { ckpt = b; } });
      expectEqual([first.epochs, first.history.length], [1, 1], 'first run: epochs, history');
      const events: FitEvent[] = [];
      const second = await fitNet(rt, net, ds, ds, { ...opts, epochs: 2 }, { resume: ckpt, onEvent: (e) => events.push(e) });
      const start = events.find((e) => e.kind === 'start');
      expectEqual(start?.kind === 'start' ? [start.firstStep, start.steps] : [], [4, 8], 'start event: firstStep, steps');
      const steps = events.flatMap((e) => (e.kind === 'progress' ? [e.step] : []));
      expectEqual(steps, [6, 8], 'progress steps of the resumed run');
      expectEqual([second.epochs, second.history.map((h) => h.epoch)], [2, [2]], 'resumed run: epochs, history');
      // the resumed run continues exactly where an uninterrupted one would be (parameters, optimizer
      // state, schedule step and the epoch's shuffle all restored; the kernels have no atomics)
      const whole: FitEvent[] = [];
      const straight = await fitNet(rt, net, ds, ds, { ...opts, epochs: 2 }, { onEvent: (e) => whole.push(e) });
      const losses = (es: FitEvent[]) => es.flatMap((e) => (e.kind === 'progress' && e.step > 4 ? [e.loss] : []));
      expectEqual(losses(whole).length, 2, 'progress events after step 4');
      expectClose(losses(events), losses(whole), { atol: 0, rtol: 1e-6 }, 'training losses of steps 6 and 8, resumed vs uninterrupted');
      expectClose([second.testLoss], [straight.testLoss], { atol: 0, rtol: 1e-6 }, 'test loss after epoch 2, resumed vs uninterrupted');
    },
  },
  {
    name: 'train: dropout on the Fastfood features trains (finite loss, same parameters) and is off in evaluation',
    async run(rt) {
      const ds = await loadMnist('train', { limit: 64 });
      const model = mnistModel('fastfood-1024', { dropout: 0.5 }).init(rt, 5);
      expectEqual(model.layers.map((l) => l.kind).slice(-3), ['ReLU', 'Dropout', 'Linear'], 'head');
      const plain = mnistModel('fastfood-1024').init(rt, 5);
      expectEqual(model.parameterCount, plain.parameterCount, 'parameter count');
      plain.dispose();
      const trainer = await compileTrainer(rt, model, { batch: 32, optimizer: { kind: 'sgd', lr: 0.01 } });
      const x = new Float32Array(32 * 784), y = new Int32Array(32);
      fillBatch(ds, Uint32Array.from({ length: 64 }, (_, i) => i), 0, x, y);
      for (let i = 0; i < 3; i++) await trainer.step(x, y);
      const st = await trainer.stats();
      if (!Number.isFinite(st.loss) || st.loss <= 0) throw new Error(`loss with dropout is ${st.loss}`);
      // off in evaluation: the same weights in a model without the Dropout layer evaluate and
      // predict identically (with dropout on, half the features would be dropped)
      const twin = mnistModel('fastfood-1024').init(rt, 5);
      for (const [i, p] of model.params.entries()) rt.write(twin.params[i]!.value, (await p.value.read()) as Float32Array);
      const twinTrainer = await compileTrainer(rt, twin, { batch: 32, optimizer: { kind: 'sgd', lr: 0.01 } });
      const [a, b] = [await trainer.evaluate(ds, 32), await twinTrainer.evaluate(ds, 32)];
      expectClose([a.loss, a.error], [b.loss, b.error], { atol: 0, rtol: 0 }, 'evaluation with dropout = without it');
      const xs = rt.tensor(x.slice(0, 4 * 784), [4, 1, 28, 28]);
      expectClose(await model.predict(xs).read(), await twin.predict(xs).read(), { atol: 0, rtol: 0 }, 'predict with dropout = without it');
      twinTrainer.destroy();
      twin.dispose();
      xs.dispose();
      await expectThrows(() => mnistModel('reference', { dropout: 0.5 }), /dropout is an option of the Fastfood nets/, 'reference + dropout');
      trainer.destroy();
      model.dispose();
    },
  },
  {
    name: 'train: the same seeds on the same adapter give bit-identical loss curves twice (conv, Fastfood, dropout, fit\'s shuffle)',
    async run(rt) {
      const ds = await loadMnist('train', { limit: 64 });
      const curve = async () => {
        const model = new Sequential([new Conv2d(1, 4, 5), new MaxPool2d(2), new Flatten(), new Fastfood(576, 128, { adaptive: true }), new ReLU(),
          new Dropout(0.3), new Linear(128, 10)], [1, 28, 28], 'small').init(rt, 11);
        const losses: number[] = [];
        try {
          await fit(rt, model, ds, ds, { batch: 16, epochs: 2, logEvery: 1, evalEachEpoch: false, seed: 5 }, { onEvent: (e) => { if (e.kind === 'progress') losses.push(e.loss); } });
        } finally {
          model.dispose();
        }
        return losses;
      };
      const [a, b] = [await curve(), await curve()];
      expectEqual(a.length, 8, 'progress events');
      expectClose(b, a, { atol: 0, rtol: 0 }, 'loss curves of two runs');
    },
  },
  {
    name: 'train: the Dropout layer\'s backward drops exactly where its forward dropped, and scales by 1/(1−p) elsewhere',
    async run(rt) {
      const n = 4096, p = 0.3;
      const xs = randn(n, 21).map((v) => v + Math.sign(v) * 0.5), dys = randn(n, 22); // no zero input
      const x = rt.tensor(xs, [4, n / 4]), dy = rt.tensor(dys, [4, n / 4]);
      const hyper = rt.zeros([HYPER.length]);
      const h = new Float32Array(HYPER.length);
      h[HYPER.seed] = 12345;
      rt.write(hyper, h);
      const g = new GraphBuilder(rt, 'dropout layer');
      const node = new Dropout(p).compile({ g, train: true, hyper, grad: () => { throw new Error('no params'); } }, x);
      const dx = node.backward(dy, true)!;
      g.keep(node.y, dx);
      const graph = g.compile();
      graph.enqueue();
      const y = await graph.read(node.y as GraphValue), d = await graph.read(dx as GraphValue);
      let dropped = 0;
      for (let i = 0; i < n; i++) {
        const kept = y[i] !== 0;
        if (!kept) dropped++;
        const want = kept ? dys[i]! / (1 - p) : 0;
        if (Math.abs(d[i]! - want) > 1e-6 * Math.abs(want) || (!kept && d[i] !== 0)) throw new Error(`element ${i}: y ${y[i]}, dx ${d[i]}, expected ${want}`);
        if (kept && Math.abs(y[i]! - xs[i]! / (1 - p)) > 1e-6 * Math.abs(y[i]!)) throw new Error(`element ${i}: y ${y[i]} is not x/(1−p)`);
      }
      if (Math.abs(dropped / n - p) > 0.03) throw new Error(`dropped ${dropped / n} of elements, expected about ${p}`);
      graph.destroy();
      for (const t of [x, dy, hyper]) t.dispose();
    },
  },
];
