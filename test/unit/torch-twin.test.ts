// The PyTorch twin (python/deepfried_torch.py) against deepfried: the trained checkpoints of
// results/mnist/ give the same MNIST test errors and logits in both; a net trained in PyTorch and
// saved by the twin loads here with the same logits (and its SGD state into a trainer); and
// python/finetune.py continues one of our checkpoints into a file we load.
// Python is /usr/bin/python3 (Debian's python3-torch), or $PYTHON. Without torch these tests are
// skipped with a message, except in CI ($CI set), where they fail.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/api.js';
import { loadMnist, type Dataset } from '../../src/data/mnist.js';
import type { Sequential } from '../../src/nn/model.js';
import { decodeSafetensors, fromSafetensors, loadSafetensors } from '../../src/nn/safetensors.js';
import { compileTrainer, invSchedule } from '../../src/nn/trainer.js';

const repo = resolve(import.meta.dirname, '../..');
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const RESULTS = join(repo, 'results/mnist');
/** Tolerance of logits: |ours − twin| ≤ TOL·max|twin logit of that image| (an absolute tolerance at
 * the image's logit scale; a purely relative one fails on logits near zero). */
const TOL = 1e-4;
/** Logits compared one by one: the first LOGIT_IMAGES test images. */
const LOGIT_IMAGES = 256;
/** Rows evaluated on all 10k test images, the others on the first PARTIAL images (npm test stays
 * under its 12 minutes: on SwiftShader a row's 10k images take 17 s alone, about a minute on 2 busy
 * cores). TORCH_TWIN_FULL=1 runs every row on 10k (the figures in the issue notes). */
const FULL_ROWS: string[] = [];
const ALL_FULL = Boolean(process.env.TORCH_TWIN_FULL);
const PARTIAL = 1000;

const probe = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
const hasTorch = probe.status === 0;
const torchMissing = `${PYTHON} cannot import torch (${(probe.error?.message ?? probe.stderr ?? '').trim().split('\n').pop()}); ` +
  'install Debian\'s python3-torch (apt-get install python3-torch) or point $PYTHON at a Python with torch';
if (!hasTorch && !process.env.CI) console.warn(`torch-twin: SKIPPED: ${torchMissing} (with $CI set these tests fail instead)`);

/** In CI without torch every test fails at once, naming the problem. */
function needTorch(): void {
  if (!hasTorch) throw new Error(`torch-twin: ${torchMissing}`);
}

/** Runs a Python script (a file under python/ or `-c` code) and returns its stdout; rejects with stderr. */
function python(args: string[]): Promise<string> {
  return new Promise((res, rej) => {
    const p = spawn(PYTHON, args, { cwd: repo, env: { ...process.env, PYTHONPATH: join(repo, 'python'), PYTHONDONTWRITEBYTECODE: '1' } });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', rej);
    p.on('close', (code) => (code === 0 ? res(out) : rej(new Error(`${PYTHON} ${args.join(' ').slice(0, 200)} exited with ${code}:\n${err.slice(-4000)}`))));
  });
}

async function logitsOf(rt: Runtime, model: Sequential, images: Float32Array, n: number): Promise<Float32Array> {
  const x = rt.tensor(images.subarray(0, n * 784), [n, 1, 28, 28]);
  const y = model.predict(x);
  const out = (await y.read()) as Float32Array;
  x.dispose();
  y.dispose();
  return out;
}

/** First maximum of each row of 10, and its margin over the runner-up. */
function argmaxRows(z: ArrayLike<number>, n: number): { pred: Int32Array; scale: Float32Array } {
  const pred = new Int32Array(n), scale = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    let best = 0, m = 0;
    for (let j = 0; j < 10; j++) {
      const v = z[r * 10 + j]!;
      if (v > z[r * 10 + best]!) best = j;
      m = Math.max(m, Math.abs(v));
    }
    pred[r] = best;
    scale[r] = m;
  }
  return { pred, scale };
}

/** Checks every logit against TOL; returns the worst |a − b| / (max|b| of the image's row), and
 * (for information) the worst plain relative difference |a − b| / |b|. */
function compareLogits(ours: ArrayLike<number>, twin: ArrayLike<number>, what: string): { worst: number; relative: number } {
  expect(ours.length, `${what}: logit count`).toBe(twin.length);
  let worst = 0, relative = 0;
  for (let r = 0; r < twin.length / 10; r++) {
    let scale = 0;
    for (let j = 0; j < 10; j++) scale = Math.max(scale, Math.abs(twin[r * 10 + j]!));
    for (let j = 0; j < 10; j++) {
      const i = r * 10 + j, d = Math.abs(ours[i]! - twin[i]!) / Math.max(scale, 1e-30);
      worst = Math.max(worst, d);
      relative = Math.max(relative, Math.abs(ours[i]! - twin[i]!) / Math.abs(twin[i]!));
      if (!(d <= TOL)) throw new Error(`${what}: image ${r} logit ${j}: ours ${ours[i]}, twin ${twin[i]} (difference ${d.toExponential(2)} of the image's max |logit| ${scale}, tolerance ${TOL})`);
    }
  }
  return { worst, relative };
}

describe.skipIf(!hasTorch && !process.env.CI)('PyTorch twin (python/deepfried_torch.py)', () => {
  let rt: Runtime;
  let test: Dataset;
  const tmp = mkdtempSync(join(tmpdir(), 'deepfried-twin-'));
  beforeAll(async () => {
    rt = await createRuntime();
    test = await loadMnist('test');
  });
  afterAll(() => {
    rt?.destroy();
    rmSync(tmp, { recursive: true, force: true });
  });

  it(`torch imports in ${PYTHON}`, () => {
    expect(hasTorch, torchMissing).toBe(true);
    console.log(`torch-twin: ${PYTHON}, torch ${probe.stdout.trim()}`);
  });

  it('every trained MNIST checkpoint: the same test error and logits in deepfried (WebGPU) and the twin', async () => {
    needTorch();
    const files = readdirSync(RESULTS).filter((f) => f.endsWith('.safetensors')).sort();
    expect(files.length).toBeGreaterThan(0);
    const limitOf = (f: string) => (ALL_FULL || FULL_ROWS.includes(f.replace(/\.safetensors$/, '')) ? test.count : PARTIAL);
    const t0 = performance.now();
    // the twin works through every file at once (one Python start), on the CPU beside our GPU work
    const groups = [...new Set(files.map(limitOf))];
    const twinRuns = groups.map((limit) => python([join(repo, 'python/deepfried_torch.py'), 'eval', ...files.filter((f) => limitOf(f) === limit).map((f) => join(RESULTS, f)),
      '--limit', String(limit), '--logits', String(LOGIT_IMAGES), '--predictions']).then((out) => ({ at: performance.now(), out })));
    twinRuns.forEach((p) => p.catch(() => {}));
    const ours = new Map<string, { errors: number; pred: Int32Array; scale: Float32Array; logits: Float32Array; seconds: number }>();
    for (const f of files) {
      const t = performance.now();
      const n = limitOf(f);
      const { model } = fromSafetensors(rt, new Uint8Array(readFileSync(join(RESULTS, f))));
      try {
        const z = await logitsOf(rt, model, test.images, n);
        const { pred, scale } = argmaxRows(z, n);
        let errors = 0;
        for (let i = 0; i < n; i++) if (pred[i] !== test.labels[i]) errors++;
        ours.set(f, { errors, pred, scale, logits: z.slice(0, LOGIT_IMAGES * 10), seconds: (performance.now() - t) / 1000 });
      } finally {
        model.dispose();
      }
    }
    const tOurs = performance.now();
    const twin = new Map<string, { errors: number; count: number; logits: number[]; predictions: number[]; margins: number[] }>();
    let tTwin = 0;
    for (const r of await Promise.all(twinRuns)) {
      tTwin = Math.max(tTwin, r.at);
      for (const line of r.out.trim().split('\n')) {
        const j = JSON.parse(line) as { file: string; errors: number; count: number; logits: number[]; predictions: number[]; margins: number[] };
        twin.set(j.file.split('/').pop()!, j);
      }
    }
    const rows: string[] = [];
    for (const f of files) {
      const o = ours.get(f)!, t = twin.get(f)!, n = limitOf(f);
      expect(t, `twin result for ${f}`).toBeDefined();
      expect(t.count).toBe(n);
      // predictions agree except on images whose top two logits are within TOL (of the image's scale)
      let ambiguous = 0;
      for (let i = 0; i < n; i++) {
        if (o.pred[i] === t.predictions[i]) continue;
        const near = t.margins[i]! <= TOL * Math.max(o.scale[i]!, 1e-30);
        if (!near) throw new Error(`${f}: image ${i}: deepfried predicts ${o.pred[i]}, the twin ${t.predictions[i]} with a top-two margin of ${t.margins[i]}`);
        ambiguous++;
      }
      expect(Math.abs(o.errors - t.errors), `${f}: error counts ${o.errors} (ours) and ${t.errors} (twin) differ by more than the ${ambiguous} near-tie images`).toBeLessThanOrEqual(ambiguous);
      const worst = compareLogits(o.logits, t.logits, f);
      let recorded = '';
      try {
        const j = JSON.parse(readFileSync(join(RESULTS, f.replace(/\.safetensors$/, '.json')), 'utf8')) as { testError?: number };
        if (n === test.count && typeof j.testError === 'number') recorded = `, recorded ${(100 * j.testError).toFixed(2)}%`;
      } catch { /* no run record */ }
      rows.push(`${f.replace(/\.safetensors$/, '').padEnd(30)} on ${String(n).padStart(5)}: ours ${o.errors} errors (${(100 * o.errors / n).toFixed(2)}%), ` +
        `twin ${t.errors} (${(100 * t.errors / n).toFixed(2)}%)${recorded}; ${ambiguous} near ties; worst logit difference ${worst.worst.toExponential(2)} (plain relative ${worst.relative.toExponential(2)}); ours ${o.seconds.toFixed(1)} s`);
    }
    console.log(`torch-twin: MNIST test error, deepfried vs twin (logits of the first ${LOGIT_IMAGES} images within ${TOL} of each image's max |logit|)\n  ` +
      `${rows.join('\n  ')}\n  deepfried (GPU) ${((tOurs - t0) / 1000).toFixed(1)} s, twin (CPU, alongside) done at ${((tTwin - t0) / 1000).toFixed(1)} s`);
  }, 900_000);

  it('a net trained in PyTorch and saved by the twin loads here with the same logits; its SGD state continues as in PyTorch', async () => {
    needTorch();
    const ckpt = join(tmp, 'twin-trained.safetensors'), batch = join(tmp, 'twin-batch.safetensors');
    await python(['-c', `
import sys, torch, torch.nn.functional as F
import deepfried_torch as dt
ckpt, batch = sys.argv[1:3]
torch.manual_seed(0)
model = dt.mnist_model('adaptive-fastfood-1024')
x, y = torch.rand(128, 1, 28, 28), torch.randint(0, 10, (128,))
opt = dt.make_optimizer(model, 'sgd', lr=0.05)
model.train()
for step in range(6):
    i = slice((step % 4) * 32, (step % 4 + 1) * 32)
    dt.set_lr(opt, dt.inv_schedule(step))
    opt.zero_grad()
    F.cross_entropy(model(x[i]), y[i]).backward()
    opt.step()
dt.save(ckpt, model, optimizer=opt, step=6)
xb = torch.rand(16, 1, 28, 28)
logits = dt.predict(model, xb)
# the twin reads its own file back to the same parameters
again, meta, state = dt.load(ckpt)
assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
assert state['kind'] == 'sgd' and state['step'] == 6 and meta['optimizer'] == 'sgd'
# one more step (the 7th, t = 6) on a batch of 16, for deepfried's trainer to repeat from the file
xs, ys = torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))
model.train()
dt.set_lr(opt, dt.inv_schedule(6))
opt.zero_grad()
F.cross_entropy(model(xs), ys).backward()
opt.step()
dt.write_safetensors(batch, [('x', xb), ('logits', logits), ('xs', xs), ('ys', ys.int()), ('after', dt.predict(model, xb))], {})
`, ckpt, batch]);
    const bytes = new Uint8Array(readFileSync(ckpt));
    const { model, step, metadata } = fromSafetensors(rt, bytes);
    try {
      expect(step).toBe(6);
      expect(metadata.optimizer).toBe('sgd');
      expect(model.name).toBe('adaptive-fastfood-1024');
      const b = decodeSafetensors(new Uint8Array(readFileSync(batch)));
      const x = b.tensors.get('x')!.data as Float32Array, want = b.tensors.get('logits')!.data as Float32Array;
      const worst = compareLogits(await logitsOf(rt, model, x, 16), want, 'twin-trained net');
      // the twin's optimizer state loads into a trainer of ours (names, shapes, step), and the
      // next step (lr multipliers, weight decay, momentum, schedule) lands where PyTorch's did
      const trainer = await compileTrainer(rt, model, { batch: 16, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 }, schedule: invSchedule() });
      let next: { worst: number; relative: number };
      try {
        expect(loadSafetensors(model, bytes, { trainer })).toBe(6);
        expect(trainer.steps).toBe(6);
        const m = decodeSafetensors(bytes).tensors.get('optimizer.5.S.momentum_buffer')!.data as Float32Array;
        expect(m.some((v) => v !== 0), 'S has a momentum buffer from the twin\'s steps').toBe(true);
        await trainer.step(b.tensors.get('xs')!.data as Float32Array, b.tensors.get('ys')!.data as Int32Array);
        const after = await logitsOf(rt, model, x, 16);
        expect(after.some((v, i) => v !== want[i]), 'the step changed the logits').toBe(true);
        next = compareLogits(after, b.tensors.get('after')!.data as Float32Array, 'after one more SGD step in both');
      } finally {
        trainer.destroy();
      }
      console.log(`torch-twin: twin-trained adaptive-fastfood-1024 (6 SGD steps): worst logit difference ${worst.worst.toExponential(2)} ` +
        `(plain relative ${worst.relative.toExponential(2)}); after a 7th step in each, ${next.worst.toExponential(2)} (${next.relative.toExponential(2)})`);
    } finally {
      model.dispose();
    }
  }, 300_000);

  it('python/finetune.py continues one of our checkpoints into a file we load, its step advanced', async () => {
    needTorch();
    const src = join(RESULTS, 'adaptive-fastfood-1024.safetensors'), out = join(tmp, 'finetuned.safetensors');
    const before = decodeSafetensors(new Uint8Array(readFileSync(src)));
    const log = await python([join(repo, 'python/finetune.py'), src, '--out', out, '--limit', '256', '--test-limit', '500', '--log-every', '2']);
    expect(log).toMatch(/test error/);
    const bytes = new Uint8Array(readFileSync(out));
    const { model, step } = fromSafetensors(rt, bytes);
    try {
      expect(step).toBe(Number(before.metadata.step) + 4); // 256 images, batches of 64
      const after = decodeSafetensors(bytes);
      expect(after.metadata.model).toBe(before.metadata.model);
      expect([...after.tensors.keys()]).toEqual([...before.tensors.keys()]);
      expect(after.tensors.get('5.perm')!.data).toEqual(before.tensors.get('5.perm')!.data);
      for (const name of ['0.weight', '5.S', '7.weight', 'optimizer.7.weight.momentum_buffer']) {
        expect(after.tensors.get(name)!.data, `${name} changed`).not.toEqual(before.tensors.get(name)!.data);
      }
      const z = await logitsOf(rt, model, test.images, 64);
      expect(z.every(Number.isFinite)).toBe(true);
      console.log(`torch-twin: finetune.py: ${log.trim().split('\n').slice(-2).join(' | ')}`);
    } finally {
      model.dispose();
    }
  }, 300_000);
});
