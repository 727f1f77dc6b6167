// A tfjs model whose Dense layer is swapped for deepfried's AdaptiveFastfood: trained with
// model.fit on MNIST, saved and loaded back through tfjs's own IO. Runs in Node (tfjs on Dawn) and,
// without the Node lines, in a page. `npx tsx examples/tfjs-layer.ts [--images N] [--epochs N]`
// (run by test/unit/examples.test.ts; the README and docs/tfjs.md quote it).
import * as tf from '@tensorflow/tfjs';
import { adaptiveFastfood, provideNavigatorGpu } from '../src/tfjs.js';
import { loadMnist } from '../src/index.js';
import { parseCli } from './args.js';

export async function main({ images = 1024, epochs = 3 } = {}): Promise<{ loss: number[]; params: number; sameAfterLoad: boolean }> {
  await provideNavigatorGpu(); // Node only (a no-op in a browser): tfjs looks for navigator.gpu
  await import('@tensorflow/tfjs-backend-webgpu'); // registers tfjs's 'webgpu' backend
  await tf.setBackend('webgpu');

  const train = await loadMnist('train', { limit: images });
  const xs = tf.tensor2d(train.images, [train.count, 784]);
  const ys = tf.oneHot(tf.tensor1d(train.labels, 'int32'), 10);
  const model = tf.sequential({
    layers: [
      adaptiveFastfood({ units: 1024, inputShape: [784] }), // was tf.layers.dense({ units: 1024, inputShape: [784] })
      tf.layers.activation({ activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
  const h = await model.fit(xs, ys, { epochs, batchSize: 64, verbose: 0 });
  const loss = h.history.loss as number[];
  console.log(`loss by epoch: ${loss.map((l) => l.toFixed(3)).join(', ')}; ${model.countParams()} parameters (a Dense layer: ${784 * 1024 + 1024 + 10250})`);

  // tfjs's own IO: model.save('indexeddb://mnist') or 'downloads://mnist' in a page; here in memory.
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => { saved = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
  const back = await tf.loadLayersModel(tf.io.fromMemory(saved!)); // AdaptiveFastfood is a registered class
  const probe = xs.slice([0, 0], [8, 784]);
  const [a, b] = [await (model.predict(probe) as tf.Tensor).data(), await (back.predict(probe) as tf.Tensor).data()];
  const sameAfterLoad = a.every((v, i) => Math.abs(v - b[i]!) <= 1e-6);
  console.log(`loaded back: ${back.layers[0]!.getClassName()}, predictions ${sameAfterLoad ? 'identical' : 'DIFFER'}`);
  return { loss, params: model.countParams(), sameAfterLoad };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values: a } = parseCli({ options: { images: { type: 'string' }, epochs: { type: 'string' } } });
  await main({ images: Number(a.images ?? 1024), epochs: Number(a.epochs ?? 3) });
}
