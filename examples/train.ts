// npm run train -- [--model adaptive-fastfood-1024] [--epochs 1] [--batch 64] [--lr 0.01] [--train-limit N]
//                  [--test-limit N] [--runtime node|chrome] [--json FILE] [--save FILE] [--resume FILE]
import { readFile, writeFile } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { createRuntime } from '../src/api.js';
import { loadMnist, mnistDir } from '../src/data/mnist.js';
import { checkMnistRun, fitMnist, MNIST_DEFAULTS, type FitEvent, type MnistRun, type FitResult } from './mnist-fit.js';
import { MNIST_MODELS, type MnistModelName } from '../src/nn/model.js';
import { parseCli } from './args.js';
import { writeFileAtomic } from './files.js';

const HELP = `Train a Deep Fried Convnet on MNIST with WebGPU.
  --model NAME        ${MNIST_MODELS.join(' | ')} (default ${MNIST_DEFAULTS.model})
  --epochs N          passes over the training set (default ${MNIST_DEFAULTS.epochs})
  --batch N           batch size (default ${MNIST_DEFAULTS.batch})
  --lr X              base learning rate (default ${MNIST_DEFAULTS.lr}, the paper's; SGD with momentum 0.9, Caffe's "inv" schedule).
                      The Fastfood nets train better at 0.03 (README, MNIST table)
  --optimizer NAME    sgd | adam (default sgd)
  --weight-decay X    L2 decay on weights (default ${MNIST_DEFAULTS.weightDecay})
  --dropout P         dropout on the Fastfood features, Fastfood nets only (default ${MNIST_DEFAULTS.dropout})
  --seed N            initialisation and shuffling seed (default ${MNIST_DEFAULTS.seed})
  --train-limit N     use the first N training images (default all 60000)
  --test-limit N      evaluate on the first N test images (default all 10000)
  --runtime NAME      node (Dawn) | chrome (headless Chromium through puppeteer) (default node)
  --json FILE         write {model, params, epochs, trainImages, testError, seconds, imagesPerSecond, runtime, adapter}
  --save FILE         write a checkpoint after every epoch and at the end
  --resume FILE       continue from a checkpoint (same model; the epoch count is the total)`;

const { values: a } = parseCli({
  options: {
    model: { type: 'string' }, epochs: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' },
    optimizer: { type: 'string' }, 'weight-decay': { type: 'string' }, dropout: { type: 'string' }, seed: { type: 'string' },
    'train-limit': { type: 'string' }, 'test-limit': { type: 'string' }, runtime: { type: 'string' },
    json: { type: 'string' }, save: { type: 'string' }, resume: { type: 'string' }, help: { type: 'boolean' },
  },
});
if (a.help) { console.log(HELP); process.exit(0); }

const num = (v: string | undefined, name: string, dflt: number): number => {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) { console.error(`--${name} must be a number, got "${v}"`); process.exit(2); }
  return n;
};
const opts: MnistRun = {
  ...MNIST_DEFAULTS,
  model: (a.model ?? MNIST_DEFAULTS.model) as MnistModelName,
  epochs: num(a.epochs, 'epochs', MNIST_DEFAULTS.epochs), batch: num(a.batch, 'batch', MNIST_DEFAULTS.batch),
  lr: num(a.lr, 'lr', MNIST_DEFAULTS.lr), optimizer: (a.optimizer ?? 'sgd') as 'sgd' | 'adam',
  weightDecay: num(a['weight-decay'], 'weight-decay', MNIST_DEFAULTS.weightDecay), dropout: num(a.dropout, 'dropout', MNIST_DEFAULTS.dropout),
  seed: num(a.seed, 'seed', MNIST_DEFAULTS.seed),
};
const trainLimit = num(a['train-limit'], 'train-limit', 60000), testLimit = num(a['test-limit'], 'test-limit', 10000);
const runtime = a.runtime ?? 'node';
try {
  checkMnistRun(opts);
  if (runtime !== 'node' && runtime !== 'chrome') throw new Error(`--runtime must be node or chrome, got "${runtime}"`);
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}

// ---- progress output: a bar on a terminal, a plain line per report otherwise (logs, CI)
const tty = Boolean(process.stdout.isTTY);
const bar = new cliProgress.SingleBar({
  format: 'epoch {epoch} |{bar}| {value}/{total} steps | loss {loss} | train acc {acc} | {ips} img/s | ETA {eta_formatted}',
  etaBuffer: 50, hideCursor: true,
}, cliProgress.Presets.shades_classic);
let started = 0, firstStep = 0;
function onEvent(e: FitEvent): void {
  switch (e.kind) {
    case 'start':
      console.log(`model ${e.model}: ${e.params.toLocaleString('en')} parameters; ${e.trainImages} training images, ${e.steps} steps of ${opts.batch}; ${runtime} on ${e.adapter}`);
      if (e.firstStep > 0) console.log(`resuming at step ${e.firstStep} of ${e.steps}`);
      started = Date.now(); firstStep = e.firstStep;
      if (tty) bar.start(e.steps, e.firstStep, { epoch: Math.floor(e.firstStep * opts.epochs / e.steps) + 1, loss: '-', acc: '-', ips: '-' });
      break;
    case 'progress': {
      const p = { epoch: e.epoch, loss: e.loss.toFixed(4), acc: (100 * e.accuracy).toFixed(1) + '%', ips: e.imagesPerSecond.toFixed(1) };
      if (tty) bar.update(e.step, p);
      else {
        // time per step since this run started (a resumed run's earlier steps are not in it)
        const eta = ((Date.now() - started) / 1000) * (e.steps - e.step) / Math.max(1, e.step - firstStep);
        console.log(`epoch ${p.epoch} step ${e.step}/${e.steps} | loss ${p.loss} | train acc ${p.acc} | ${p.ips} img/s | ETA ${Math.round(eta)} s`);
      }
      break;
    }
    case 'eval':
      if (tty) bar.stop();
      console.log(`epoch ${e.epoch}: test error ${(100 * e.testError).toFixed(2)}% (test loss ${e.testLoss.toFixed(4)})`);
      if (tty && e.epoch < opts.epochs) bar.start(bar.getTotal(), Math.round(e.epoch * bar.getTotal() / opts.epochs), { epoch: e.epoch + 1 });
      break;
    case 'done':
      if (tty) bar.stop();
      break;
  }
}

const resume = a.resume ? new Uint8Array(await readFile(a.resume)) : undefined;
const save = a.save ? async (b: Uint8Array) => { await writeFileAtomic(a.save!, b); if (!tty) console.log(`checkpoint written to ${a.save}`); } : undefined;
let result: FitResult;
try {
  result = await run();
} catch (e) {
  if (tty) bar.stop();
  console.error(`\n${(e as Error).message}`);
  process.exit(1);
}

async function run(): Promise<FitResult> {
  if (runtime === 'node') {
    const rt = await createRuntime();
    try {
      const [train, test] = await Promise.all([loadMnist('train', { limit: trainLimit }), loadMnist('test', { limit: testLimit })]);
      return await fitMnist(rt, train, test, opts, { onEvent, resume, save });
    } finally {
      rt.destroy();
    }
  }
  const { openInChrome } = await import('./chrome.js');
  const dir = await mnistDir();
  const files = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
  const s = await openInChrome('examples/train-page.ts', '__deepfriedTrain', Object.fromEntries(files.map((f) => [`/mnist/${f}`, `${dir}/${f}`])));
  try {
    await s.page.exposeFunction('__deepfriedEvent', (e: FitEvent) => onEvent(e));
    await s.page.exposeFunction('__deepfriedSave', async (b64: string) => save?.(new Uint8Array(Buffer.from(b64, 'base64'))));
    return await s.page.evaluate(
      (o, tl, sl, r, wantSave) => (globalThis as any).__deepfriedTrain(o, tl, sl, r, wantSave),
      opts, trainLimit, testLimit, resume ? Buffer.from(resume).toString('base64') : null, Boolean(save),
    ) as FitResult;
  } finally {
    await s.close();
  }
}
console.log(`${result.model}: test error ${(100 * result.testError).toFixed(2)}% after ${result.epochs} epoch(s) on ${result.trainImages} images; ` +
  `${result.params.toLocaleString('en')} parameters; ${result.seconds.toFixed(0)} s, ${result.imagesPerSecond.toFixed(1)} images/s (${runtime})`);
if (a.json) {
  const { history: _h, testLoss: _l, ...rest } = result;
  await writeFile(a.json, JSON.stringify({ ...rest, runtime, history: result.history }, null, 2) + '\n');
}
