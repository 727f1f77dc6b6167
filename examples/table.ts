// npm run table -- [--epochs 10] [--models a,b] [--dropout P] [--lr X]
// Trains the paper's five MNIST nets to a target epoch count, resuming from the checkpoint and
// state each run leaves in results/mnist/ after every epoch, and regenerates results/mnist/TABLE.md.
// --dropout P (Fastfood nets only) and --lr X (other than the paper's 0.01) train a separate row,
// <model>-dropout<P>-lr<X>, beside the plain one.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { createRuntime } from '../src/api.js';
import { loadMnist } from '../src/data/mnist.js';
import { checkMnistRun, fitMnist, MNIST_DEFAULTS } from './mnist-fit.js';
import { MNIST_MODELS, type MnistModelName } from '../src/nn/model.js';
import { parseCli } from './args.js';
import { writeFileAtomic } from './files.js';

const PAPER: Record<MnistModelName, { error: number; params: string }> = {
  reference: { error: 0.87, params: '430K' },
  'fastfood-1024': { error: 0.71, params: '38,821' },
  'adaptive-fastfood-1024': { error: 0.72, params: '38,821' },
  'fastfood-2048': { error: 0.71, params: '52,165' },
  'adaptive-fastfood-2048': { error: 0.73, params: '52,165' },
};
const DIR = 'results/mnist';

interface State {
  model: string; dropout?: number; lr?: number; params: number; epochs: number; trainImages: number; testError: number; seconds: number;
  imagesPerSecond: number; runtime: string; adapter: string; history: { epoch: number; testError: number }[];
}

const { values: a } = parseCli({ options: { epochs: { type: 'string' }, models: { type: 'string' }, dropout: { type: 'string' }, lr: { type: 'string' } } });
const target = Number(a.epochs ?? 10);
const dropout = Number(a.dropout ?? 0), lr = Number(a.lr ?? MNIST_DEFAULTS.lr);
const models = (a.models ? a.models.split(',') : [...MNIST_MODELS]) as MnistModelName[];
try {
  for (const model of models) checkMnistRun({ ...MNIST_DEFAULTS, model, dropout, lr, epochs: target });
  if (dropout > 0 && models.includes('reference')) throw new Error('--dropout is for the Fastfood nets; the reference row (Caffe\'s LeNet) has none');
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}
/** A row variant's file-stem suffix, table label and command-line flags: its dropout rate and
 * learning rate where they are not the paper's. */
function variant(p: number, rate: number): { stem: string; label: string; flags: string } {
  const drop = p > 0, lrOwn = rate !== MNIST_DEFAULTS.lr;
  return {
    stem: `${drop ? `-dropout${p}` : ''}${lrOwn ? `-lr${rate}` : ''}`,
    label: `${drop ? ` + dropout ${p}` : ''}${lrOwn ? `, lr ${rate}` : ''}`,
    flags: `${drop ? ` --dropout ${p}` : ''}${lrOwn ? ` --lr ${rate}` : ''}`,
  };
}
await mkdir(DIR, { recursive: true });

const rt = await createRuntime();
const [train, test] = await Promise.all([loadMnist('train'), loadMnist('test')]);
for (const model of models) {
  const row = `${model}${variant(dropout, lr).stem}`;
  const stateFile = `${DIR}/${row}.json`, ckpt = `${DIR}/${row}.safetensors`;
  const prev: State | undefined = existsSync(stateFile) ? JSON.parse(await readFile(stateFile, 'utf8')) : undefined;
  if (prev && prev.epochs >= target) { console.log(`${row}: ${prev.epochs} epochs done, ${(100 * prev.testError).toFixed(2)}% test error`); continue; }
  const resume = prev && existsSync(ckpt) ? new Uint8Array(await readFile(ckpt)) : undefined;
  const before = resume ? prev! : undefined;
  console.log(`${row}: ${before ? `resuming after epoch ${before.epochs}` : 'starting'}, target ${target} epochs`);
  const t0 = performance.now();
  let history = before?.history ?? [];
  let params = 0, ips = 0;
  const adapter = `${rt.adapterInfo.vendor} ${rt.adapterInfo.architecture}`;
  await fitMnist(rt, train, test, { ...MNIST_DEFAULTS, model, dropout, lr, epochs: target, logEvery: 100 }, {
    resume,
    onEvent: (e) => {
      if (e.kind === 'start') params = e.params;
      if (e.kind === 'progress') ips = e.imagesPerSecond;
      if (e.kind === 'progress') console.log(`  ${row} epoch ${e.epoch} step ${e.step}/${e.steps} loss ${e.loss.toFixed(4)} acc ${(100 * e.accuracy).toFixed(1)}% ${e.imagesPerSecond.toFixed(1)} img/s`);
      if (e.kind === 'eval') {
        history = [...history.filter((h) => h.epoch !== e.epoch), { epoch: e.epoch, testError: e.testError }];
        console.log(`  ${row} epoch ${e.epoch}: test error ${(100 * e.testError).toFixed(2)}%`);
      }
    },
    save: async (b) => {
      // checkpoint first, then the state that points at it; each replaced whole (a crash mid-write
      // leaves the previous file)
      await writeFileAtomic(ckpt, b);
      const last = history.at(-1)!;
      const seconds = (before?.seconds ?? 0) + (performance.now() - t0) / 1000;
      const state: State = {
        model, dropout, lr, params, epochs: last.epoch, trainImages: train.count, testError: last.testError, seconds,
        imagesPerSecond: ips, runtime: 'node', adapter, history,
      };
      await writeFileAtomic(stateFile, JSON.stringify(state, null, 2) + '\n');
      await writeTable(); // a row stopped between epochs still shows where it got to
    },
  });
}
await writeTable();
rt.destroy();

async function writeTable(): Promise<void> {
  const rows = ['| model | paper error | paper params | our error | our params | epochs | wall time | images/s | where | reproduce |', '|---|---|---|---|---|---|---|---|---|---|'];
  const files = await readdir(DIR);
  for (const m of MNIST_MODELS) {
    const p = PAPER[m];
    // the plain row, then any variants (dropout, learning rate) of the same model
    const variants = [m, ...files.filter((f) => /^-(dropout|lr)/.test(f.slice(m.length)) && f.startsWith(m) && f.endsWith('.json')).map((f) => f.slice(0, -5)).sort()];
    for (const v of variants) {
      const f = `${DIR}/${v}.json`;
      const s: State | undefined = existsSync(f) ? JSON.parse(await readFile(f, 'utf8')) : undefined;
      const vr = variant(s?.dropout ?? 0, s?.lr ?? MNIST_DEFAULTS.lr), label = `${m}${vr.label}`;
      // a row short of the paper's 10 epochs shows how far it got; its command finishes it
      const goal = Math.max(10, s?.epochs ?? 10);
      const cmd = `npm run table -- --models ${m}${vr.flags} --epochs ${goal}`;
      const err = s ? `${(100 * s.testError).toFixed(2)}%${s.epochs < goal ? ` (after ${s.epochs} of ${goal} epochs)` : ''}` : '';
      rows.push(s
        ? `| ${label} | ${p.error}% | ${p.params} | ${err} | ${s.params.toLocaleString('en')} | ${s.epochs} | ${(s.seconds / 60).toFixed(0)} min | ${s.imagesPerSecond.toFixed(0)} | ${s.runtime}, ${s.adapter} | \`${cmd}\` |`
        : `| ${label} | ${p.error}% | ${p.params} | not run yet | | | | | | \`${cmd}\` |`);
    }
  }
  await writeFileAtomic(`${DIR}/TABLE.md`, `# MNIST: the paper's Table 1 beside ours\n\nSGD, momentum 0.9, lr 0.01 with Caffe's "inv" schedule, weight decay 5e-4, batch 64; test error on the full 10k test set. Rows "+ dropout P" drop the Fastfood features (after their ReLU) with probability P while training; rows ", lr X" start the schedule at X instead of 0.01.\n\n${rows.join('\n')}\n`);
}
