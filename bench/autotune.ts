// What autotuning costs and gains per MNIST net on this adapter (not part of `npm run bench`: it
// compiles every candidate's training step, minutes on SwiftShader).
// `npx tsx bench/autotune.ts [--nets reference,adaptive-fastfood-1024] [--json bench/autotune.json]`
import { writeFile } from 'node:fs/promises';
import { createRuntime } from '../src/api.js';
import { autotuneTrainer } from '../src/nn/autotune.js';
import { mnistModel, MNIST_MODELS, type MnistModelName } from '../src/nn/model.js';
import { compileTrainer } from '../src/nn/trainer.js';
import { parseCli } from '../examples/args.js';

const { values: a } = parseCli({ options: { nets: { type: 'string' }, json: { type: 'string' }, batch: { type: 'string' } } });
const nets = (a.nets?.split(',') ?? [...MNIST_MODELS]) as MnistModelName[];
const batch = Number(a.batch ?? 64);
process.env.DEEPFRIED_CACHE_DIR ??= `/tmp/deepfried-autotune-bench-${process.pid}`; // measure, never reuse
const rt = await createRuntime();
const rows = [];
for (const net of nets) {
  const model = mnistModel(net).init(rt, 1);
  const opts = { batch, optimizer: { kind: 'sgd' as const, lr: 0.01, momentum: 0.9 } };
  const r = await autotuneTrainer(rt, model, opts, (o) => compileTrainer(rt, model, o));
  model.dispose();
  const row = { net, baselineMs: r.baselineMs, chosenMs: r.chosenMs, gain: r.baselineMs / r.chosenMs, costS: r.costMs / 1000, tuning: r.tuning, candidates: r.candidates };
  rows.push(row);
  console.log(`${net}: default ${r.baselineMs.toFixed(0)} ms/step, tuned ${r.chosenMs.toFixed(0)} ms/step (${row.gain.toFixed(2)}×) with ${JSON.stringify(r.tuning)}; tuning cost ${row.costS.toFixed(0)} s`);
  for (const c of r.candidates) console.log(`    ${JSON.stringify(c.tuning)}: ${c.verified ? `compile ${(c.compileMs! / 1000).toFixed(1)} s, step ${c.stepMs!.toFixed(0)} ms` : `not verified: ${c.error}`}`);
}
const adapter = `${rt.adapterInfo.vendor} ${rt.adapterInfo.architecture} ${rt.adapterInfo.description}`.trim();
if (a.json) await writeFile(a.json, JSON.stringify({ adapter, batch, date: new Date().toISOString(), rows }, null, 1));
rt.destroy();
