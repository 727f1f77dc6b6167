// safetensors checkpoints of a trained paper net: names, round trips (parameters, optimizer state,
// step), fromSafetensors, and every bad file refused before anything is written.
import type { Runtime } from '../../../src/api.js';
import type { Dataset } from '../../../src/data/mnist.js';
import { mnistModel, type Sequential } from '../../../src/nn/model.js';
import {
  decodeSafetensors, encodeSafetensors, fromSafetensors, loadSafetensors, toSafetensors, type SafetensorsTensor,
} from '../../../src/nn/safetensors.js';
import { compileTrainer, type OptimizerConfig, type Trainer } from '../../../src/nn/trainer.js';
import { expectClose, expectEqual, expectThrows, rng, type GpuCase } from '../harness.js';

const NET = 'adaptive-fastfood-1024';
const BATCH = 8;
const exact = { atol: 0, rtol: 0 };

/** count random "images" in [0, 1) with random labels, deterministic for a seed. */
function randomData(count: number, seed: number): Dataset {
  const r = rng(seed);
  return {
    images: Float32Array.from({ length: count * 784 }, () => r()),
    labels: Int32Array.from({ length: count }, () => Math.floor(r() * 10)),
    count, shape: [1, 28, 28],
  };
}

/** A paper net, initialised with `seed`, with a trainer that has taken `steps` steps on ds. */
async function trained(rt: Runtime, seed: number, optimizer: OptimizerConfig, ds: Dataset, steps: number): Promise<{ model: Sequential; trainer: Trainer }> {
  const model = mnistModel(NET).init(rt, seed);
  const trainer = await compileTrainer(rt, model, { batch: BATCH, optimizer });
  for (let s = 0; s < steps; s++) await stepOn(trainer, ds, s);
  return { model, trainer };
}

/** One training step on the s-th batch of ds (wrapping). */
async function stepOn(trainer: Trainer, ds: Dataset, s: number): Promise<void> {
  const start = (s * BATCH) % ds.count;
  await trainer.step(ds.images.slice(start * 784, (start + BATCH) * 784), ds.labels.slice(start, start + BATCH));
}

async function logits(rt: Runtime, model: Sequential, ds: Dataset): Promise<Float32Array> {
  const x = rt.tensor(ds.images, [ds.count, 1, 28, 28]);
  const y = model.predict(x);
  const out = (await y.read()) as Float32Array;
  x.dispose();
  y.dispose();
  return out;
}

/** Every parameter (and the trainer's state) as bytes, to compare before and after. */
async function snapshot(model: Sequential, trainer?: Trainer): Promise<number[][]> {
  const ts = model.params.flatMap((p) => [p.value, ...(trainer?.state.get(p) ?? [])]);
  const out: number[][] = [];
  for (const t of ts) out.push([...new Uint8Array((await t.read()).buffer)]);
  return out;
}

async function expectSame(a: number[][], b: number[][], what: string): Promise<void> {
  expectEqual(a.length, b.length, `${what}: tensor count`);
  a.forEach((x, i) => expectClose(b[i]!, x, exact, `${what}: tensor ${i}`));
}

/** The file with its tensors and metadata edited (tensors as an ordered list). */
function rewrite(bytes: Uint8Array, edit: (ts: ({ name: string } & SafetensorsTensor)[], meta: Record<string, string>) => void): Uint8Array {
  const f = decodeSafetensors(bytes);
  const ts = [...f.tensors].map(([name, t]) => ({ name, ...t, data: t.data.slice() }));
  edit(ts, f.metadata);
  return encodeSafetensors(ts, f.metadata);
}
const find = (ts: ({ name: string } & SafetensorsTensor)[], name: string) => {
  const t = ts.find((x) => x.name === name);
  if (!t) throw new Error(`test: no tensor ${name}`);
  return t;
};

const PARAM_NAMES = ['0.weight', '0.bias', '2.weight', '2.bias', '5.B', '5.G', '5.S', '5.perm', '7.weight', '7.bias'];
const TRAINED = PARAM_NAMES.filter((n) => n !== '5.perm');

export const safetensorsCases: GpuCase[] = [
  {
    name: 'safetensors: SGD model + trainer round-trip (names, metadata, identical evaluation and logits, step, next step, same bytes)',
    async run(rt) {
      const ds = randomData(16, 1);
      const sgd: OptimizerConfig = { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 };
      const a = await trained(rt, 3, sgd, ds, 2);
      const bytes = await toSafetensors(a.model, { trainer: a.trainer });
      const f = decodeSafetensors(bytes);
      expectEqual([...f.tensors.keys()], [...PARAM_NAMES, ...TRAINED.map((n) => `optimizer.${n}.momentum_buffer`)], 'tensor names');
      expectEqual(PARAM_NAMES.map((n) => `${f.tensors.get(n)!.dtype}[${f.tensors.get(n)!.shape}]`),
        ['F32[20,1,5,5]', 'F32[20]', 'F32[50,20,5,5]', 'F32[50]', 'F32[1,1024]', 'F32[1,1024]', 'F32[1,1024]', 'I32[1,1024]', 'F32[10,1024]', 'F32[10]'], 'dtypes and shapes');
      expectEqual(f.metadata, { format: 'pt', deepfried_version: '1', model: JSON.stringify(a.model.toConfig()), step: '2', optimizer: 'sgd' }, 'metadata');
      const perm = [...f.tensors.get('5.perm')!.data].sort((x, y) => x - y);
      expectEqual(perm.every((v, i) => v === i), true, '5.perm is a permutation');

      const b = await trained(rt, 11, { ...sgd }, ds, 0);
      expectEqual(loadSafetensors(b.model, bytes, { trainer: b.trainer }), 2, 'returned step');
      expectEqual(b.trainer.steps, 2, 'restored trainer step');
      const [ea, eb] = [await a.trainer.evaluate(ds, 8), await b.trainer.evaluate(ds, 8)];
      expectClose([eb.loss, eb.error], [ea.loss, ea.error], exact, 'restored evaluation');
      expectClose(await logits(rt, b.model, ds), await logits(rt, a.model, ds), exact, 'restored predict logits');
      const again = await toSafetensors(b.model, { trainer: b.trainer });
      expectClose(again, bytes, exact, 'bytes saved from the restored model and trainer');
      // the momentum was restored too: one more step gives the same parameters
      await stepOn(a.trainer, ds, 2);
      await stepOn(b.trainer, ds, 2);
      await expectSame(await snapshot(a.model, a.trainer), await snapshot(b.model, b.trainer), 'after one more step');
      for (const m of [a, b]) { m.trainer.destroy(); m.model.dispose(); }
    },
  },
  {
    name: 'safetensors: fromSafetensors rebuilds the architecture and parameters (same logits, step, metadata)',
    async run(rt) {
      const ds = randomData(8, 2);
      const a = await trained(rt, 4, { kind: 'sgd', lr: 0.01 }, ds, 1);
      const bytes = await toSafetensors(a.model, { trainer: a.trainer });
      const { model, step, metadata } = fromSafetensors(rt, bytes);
      expectEqual([model.name, step, metadata.optimizer], [NET, 1, 'sgd'], 'name, step, optimizer');
      expectEqual(model.toConfig(), a.model.toConfig(), 'config');
      expectClose(await logits(rt, model, ds), await logits(rt, a.model, ds), exact, 'logits of the rebuilt model');
      // without a trainer: no optimizer tensors and step 0
      const plain = await toSafetensors(a.model);
      expectEqual([...decodeSafetensors(plain).tensors.keys()], PARAM_NAMES, 'tensor names without a trainer');
      const r = fromSafetensors(rt, plain);
      expectEqual([r.step, r.metadata.step, r.metadata.optimizer], [0, undefined, undefined], 'step and metadata without a trainer');
      expectClose(await logits(rt, r.model, ds), await logits(rt, a.model, ds), exact, 'logits of the model rebuilt without a trainer');
      // a file that fails to load leaves no model behind
      const live = rt.stats().liveBuffers - rt.stats().pooledBuffers;
      await expectThrows(() => fromSafetensors(rt, rewrite(plain, (ts) => { find(ts, '7.bias').data[3] = NaN; })), /"7\.bias" has a non-finite value \(NaN\) at index 3/, 'fromSafetensors of a bad file');
      await rt.sync();
      expectEqual(rt.stats().liveBuffers - rt.stats().pooledBuffers, live, 'GPU buffers in use after the failed fromSafetensors');
      for (const m of [model, r.model, a.model]) m.dispose();
      a.trainer.destroy();
    },
  },
  {
    name: 'safetensors: every bad file throws naming the problem and leaves the model and trainer unchanged',
    async run(rt) {
      const ds = randomData(8, 3);
      const a = await trained(rt, 5, { kind: 'sgd', lr: 0.01 }, ds, 1);
      const good = await toSafetensors(a.model, { trainer: a.trainer });
      const noTrainer = await toSafetensors(a.model);
      const dfck = new Uint8Array([0x44, 0x46, 0x43, 0x4b, 1, 0, 0, 0, 0, 0, 0, 0]); // an old .dfck header: magic "DFCK", version 1
      const c = await trained(rt, 6, { kind: 'sgd', lr: 0.01 }, ds, 0);
      const adam = await compileTrainer(rt, c.model, { batch: BATCH, optimizer: { kind: 'adam', lr: 1e-3 } });
      const before = await snapshot(c.model, c.trainer);
      const T = { trainer: c.trainer };
      const bad: [string, () => unknown, RegExp][] = [
        ['wrong shape', () => loadSafetensors(c.model, rewrite(good, (ts) => { find(ts, '7.weight').shape = [1024, 10]; }), T), /tensor "7\.weight" is F32\[1024,10\] in the file, the model needs F32\[10,1024\]/],
        ['wrong dtype', () => loadSafetensors(c.model, rewrite(good, (ts) => { const p = find(ts, '5.perm'); p.dtype = 'F32'; p.data = new Float32Array(p.data.length); }), T), /tensor "5\.perm" is F32\[1,1024\] in the file, the model needs I32\[1,1024\]/],
        ['missing tensor', () => loadSafetensors(c.model, rewrite(good, (ts) => { ts.splice(ts.indexOf(find(ts, '5.G')), 1); }), T), /the file has no tensor "5\.G"/],
        ['missing optimizer tensor', () => loadSafetensors(c.model, rewrite(good, (ts) => { ts.splice(ts.indexOf(find(ts, 'optimizer.5.S.momentum_buffer')), 1); }), T), /the file has no tensor "optimizer\.5\.S\.momentum_buffer"/],
        ['extra tensor', () => loadSafetensors(c.model, rewrite(good, (ts) => { ts.push({ name: '9.weight', dtype: 'F32', shape: [1], data: new Float32Array(1) }); }), T), /the file has a tensor "9\.weight" that the model and trainer do not have/],
        ['extra tensor (no trainer)', () => loadSafetensors(c.model, rewrite(noTrainer, (ts) => { ts.push({ name: '5.extra', dtype: 'F32', shape: [1], data: new Float32Array(1) }); })), /the file has a tensor "5\.extra" that the model does not have/],
        ['repeated perm value', () => loadSafetensors(c.model, rewrite(good, (ts) => { const p = find(ts, '5.perm').data; p[7] = p[3]!; }), T), /tensor "5\.perm" row 0 is not a permutation of 0\.\.1023: \d+ appears twice \(again at column 7\)/],
        ['perm value out of range', () => loadSafetensors(c.model, rewrite(good, (ts) => { find(ts, '5.perm').data[9] = 1024; }), T), /tensor "5\.perm" row 0 is not a permutation of 0\.\.1023: it has 1024 at column 9/],
        ['negative perm value', () => loadSafetensors(c.model, rewrite(good, (ts) => { find(ts, '5.perm').data[0] = -1; }), T), /tensor "5\.perm" row 0 is not a permutation of 0\.\.1023: it has -1 at column 0/],
        ['NaN parameter', () => loadSafetensors(c.model, rewrite(good, (ts) => { find(ts, '5.S').data[17] = NaN; }), T), /safetensors tensor "5\.S" has a non-finite value \(NaN\) at index 17/],
        ['infinite optimizer state', () => loadSafetensors(c.model, rewrite(good, (ts) => { find(ts, 'optimizer.0.weight.momentum_buffer').data[2] = -Infinity; }), T), /tensor "optimizer\.0\.weight\.momentum_buffer" has a non-finite value \(-Infinity\) at index 2/],
        ['truncated file', () => loadSafetensors(c.model, good.subarray(0, good.length - 4), T), /file is truncated: tensor "optimizer\.7\.bias\.momentum_buffer" ends at data byte \d+, the file has \d+ data bytes/],
        ['truncated header', () => loadSafetensors(c.model, good.subarray(0, 100), T), /header length \d+ runs past the end of the file/],
        ['wrong architecture (plain Fastfood)', () => loadSafetensors(c.model, rewrite(good, (_, m) => { m.model = JSON.stringify(mnistModel('fastfood-1024').toConfig()); }), T), /the file's architecture \("fastfood-1024"\) differs from the model's \("adaptive-fastfood-1024"\): model\.layers\[5\]\.kind is "Fastfood" in the file, "AdaptiveFastfood" in the model/],
        ['wrong architecture (reference)', () => loadSafetensors(c.model, rewrite(good, (_, m) => { m.model = JSON.stringify(mnistModel('reference').toConfig()); })), /architecture \("reference"\) differs .*model\.layers\[5\]\.kind is "Linear" in the file/],
        ['no model metadata', () => loadSafetensors(c.model, rewrite(good, (_, m) => { delete m.model; })), /the file has no "model" metadata/],
        ['no deepfried_version', () => loadSafetensors(c.model, rewrite(good, (_, m) => { delete m.deepfried_version; })), /no "deepfried_version" metadata/],
        ['future deepfried_version', () => loadSafetensors(c.model, rewrite(good, (_, m) => { m.deepfried_version = '2'; })), /deepfried_version is "2"; this deepfried reads version 1/],
        ['bad step', () => loadSafetensors(c.model, rewrite(good, (_, m) => { m.step = '-1'; }), T), /the "step" metadata "-1" is not a non-negative integer/],
        ['trainer given, no optimizer state', () => loadSafetensors(c.model, noTrainer, T), /a trainer was given but the file has no optimizer state/],
        ['trainer of another optimizer', () => loadSafetensors(c.model, good, { trainer: adam }), /the file's optimizer state is "sgd", the trainer's optimizer is "adam"/],
        ['trainer of another model', () => loadSafetensors(c.model, good, { trainer: a.trainer }), /the trainer was compiled for another model/],
        ['old .dfck', () => loadSafetensors(c.model, dfck, T), /this is an old \.dfck checkpoint \(deepfried 0\.1\).*loadCheckpoint.*toSafetensors/],
        ['old .dfck (fromSafetensors)', () => fromSafetensors(rt, dfck), /this is an old \.dfck checkpoint/],
      ];
      for (const [what, f, pattern] of bad) {
        await expectThrows(f, pattern, what);
        await expectSame(before, await snapshot(c.model, c.trainer), `${what}: model and trainer after the refused load`);
        expectEqual(c.trainer.steps, 0, `${what}: trainer step`);
      }
      // a perm stored as U32 (another writer) is read as well
      loadSafetensors(c.model, rewrite(noTrainer, (ts) => { const p = find(ts, '5.perm'); p.dtype = 'U32'; p.data = new Uint32Array(p.data); }));
      const permOf = (m: Sequential) => m.params.find((p) => p.path === '5.AdaptiveFastfood.perm')!.value.read();
      expectEqual([...await permOf(c.model)], [...await permOf(a.model)], '5.perm loaded from U32');
      // optimizer tensors in a file are ignored without a trainer; a renamed model of the same layers loads
      expectEqual(loadSafetensors(c.model, rewrite(good, (_, m) => { m.model = JSON.stringify({ ...a.model.toConfig(), name: 'renamed' }); })), 1, 'step of a file with a trainer, loaded without one');
      expectEqual(c.trainer.steps, 0, 'the trainer (not given) keeps its step');
      expectClose(await logits(rt, c.model, ds), await logits(rt, a.model, ds), exact, 'logits after the good load');
      adam.destroy();
      for (const m of [a, c]) { m.trainer.destroy(); m.model.dispose(); }
    },
  },
  {
    name: 'safetensors: Adam state round-trips (exp_avg, exp_avg_sq, step: the next step matches)',
    async run(rt) {
      const ds = randomData(16, 4);
      const opt: OptimizerConfig = { kind: 'adam', lr: 1e-3, weightDecay: 1e-4 };
      const a = await trained(rt, 7, opt, ds, 2);
      const bytes = await toSafetensors(a.model, { trainer: a.trainer });
      const f = decodeSafetensors(bytes);
      expectEqual([...f.tensors.keys()], [...PARAM_NAMES, ...TRAINED.flatMap((n) => [`optimizer.${n}.exp_avg`, `optimizer.${n}.exp_avg_sq`])], 'tensor names');
      expectEqual([f.metadata.optimizer, f.metadata.step], ['adam', '2'], 'optimizer and step metadata');
      const sq = f.tensors.get('optimizer.5.S.exp_avg_sq')!.data;
      expectEqual(sq.some((v) => v > 0), true, 'exp_avg_sq of 5.S is not all zero');
      const b = await trained(rt, 8, { ...opt }, ds, 0);
      expectEqual(loadSafetensors(b.model, bytes, { trainer: b.trainer }), 2, 'returned step');
      await expectSame(await snapshot(b.model, b.trainer), await snapshot(a.model, a.trainer), 'restored parameters and Adam state');
      await stepOn(a.trainer, ds, 2);
      await stepOn(b.trainer, ds, 2);
      await expectSame(await snapshot(b.model, b.trainer), await snapshot(a.model, a.trainer), 'after one more step (bias corrections from the restored step)');
      for (const m of [a, b]) { m.trainer.destroy(); m.model.dispose(); }
    },
  },
];
