// A consumer's browser app (test/unit/bundlers.test.ts builds it with Vite and with esbuild, with no
// configuration): the page fetches MNIST's IDX files itself, hands the bytes to loadMnist, and runs
// one training step on real digits. The result lands on window.__result.
import { compileTrainer, createRuntime, Flatten, Linear, loadMnist, Sequential } from 'deepfried';

const BATCH = 8;

async function bytes(file) {
  const r = await fetch(`/mnist/${file}`);
  if (!r.ok) throw new Error(`GET /mnist/${file}: HTTP ${r.status}`);
  return r.arrayBuffer();
}

async function main() {
  const [images, labels] = await Promise.all([bytes('t10k-images-idx3-ubyte'), bytes('t10k-labels-idx1-ubyte')]);
  // An ArrayBuffer and a Uint8Array both work; baseUrl (the demo server's way) gives the same data.
  const ds = await loadMnist('test', { images, labels: new Uint8Array(labels), limit: BATCH });
  const viaUrl = await loadMnist('test', { baseUrl: '/mnist/', limit: BATCH });
  const sameAsBaseUrl = ds.images.every((v, i) => v === viaUrl.images[i]) && ds.labels.every((v, i) => v === viaUrl.labels[i]);
  let badBytes = '';
  try {
    await loadMnist('test', { images: labels, labels });
  } catch (e) {
    badBytes = e.message;
  }

  // A small net keeps the test fast: WebGPU pipeline compilation on SwiftShader dominates it
  // (the paper's reference net takes ~20 s to compile there).
  const rt = await createRuntime();
  const model = new Sequential([new Flatten(), new Linear(784, 10)], [1, 28, 28]).init(rt, 1);
  const trainer = await compileTrainer(rt, model, { batch: BATCH, optimizer: { kind: 'sgd', lr: 0.01 } });
  await trainer.step(ds.images, ds.labels);
  const { loss, steps } = await trainer.stats();
  trainer.destroy();
  rt.destroy();
  return { loss, steps, count: ds.count, labels: Array.from(ds.labels), sameAsBaseUrl, badBytes };
}

main().then(
  (r) => { window.__result = r; },
  (e) => { window.__result = { error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) }; },
);
