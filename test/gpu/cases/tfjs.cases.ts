// deepfried/tfjs: our kernels as tfjs ops (on tfjs-backend-webgpu's device and buffers) with
// gradients, checked against the float64 references, and the AdaptiveFastfood layer in a tfjs
// model: trained with model.fit, saved and loaded through tfjs's own IO.
//
// tfjs makes its own device, as in a user's page (in Node from a second instance of the `webgpu`
// package given to it as navigator.gpu); deepfried/tfjs adopts that device.
import type * as TF from '@tensorflow/tfjs';
import { provideNavigatorGpu } from '../../../src/gpu/acquire.js';
import type { Runtime } from '../../../src/api.js';
import { fastfoodInit } from '../../../src/nn/layers.js';
import { fastfoodBackwardRef, fastfoodRef } from '../../../src/reference/fastfood.js';
import { fwhtRef } from '../../../src/reference/fwht.js';
import { expectClose, expectEqual, expectThrows, randn, rng, type GpuCase } from '../harness.js';

type Tfjs = typeof TF;
type DfTfjs = typeof import('../../../src/tfjs.js');

let loaded: Promise<{ tf: Tfjs; df: DfTfjs }> | undefined;

/** tfjs (the union package: core, layers, gradients) on its WebGPU backend, and deepfried/tfjs. */
function tfjsOn(_rt: Runtime): Promise<{ tf: Tfjs; df: DfTfjs }> {
  loaded ??= (async () => {
    await provideNavigatorGpu();
    const tf = await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-webgpu');
    const warn = console.warn;
    console.warn = (...a: unknown[]) => { if (process.env.DEBUG_TFJS) warn(...a); }; // tfjs announces its backend and platform
    try {
      if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed');
      await tf.ready();
    } finally {
      console.warn = warn;
    }
    const df = await import('../../../src/tfjs.js');
    return { tf, df };
  })();
  return loaded;
}

const TOL = { atol: 1e-4, rtol: 1e-4 };

export const tfjsCases: GpuCase[] = [
  {
    name: 'tfjs: fwht as a tfjs op on tfjs-backend-webgpu, and its gradient, match the float64 reference',
    async run(rt) {
      const { tf, df } = await tfjsOn(rt);
      const d = 64, n = 3, scale = 0.125;
      const xs = randn(n * d, 11), dys = randn(n * d, 12);
      const x = tf.tensor2d(xs, [n, d]), dy = tf.tensor2d(dys, [n, d]);
      const y = df.fwht(x, scale);
      expectClose(await y.data(), fwhtRef(xs, d, scale), TOL, 'tfjs fwht y');
      const g = tf.grad((v: TF.Tensor) => tf.sum(tf.mul(df.fwht(v, scale), dy)))(x);
      expectClose(await g.data(), fwhtRef(dys, d, scale), TOL, 'tfjs fwht dx');
      tf.dispose([x, dy, y, g]);
    },
  },
  {
    name: 'tfjs: fastfood as a tfjs op (forward, and gradients for x, B, G, S) matches the float64 reference; a bad perm is named',
    async run(rt) {
      const { tf, df } = await tfjsOn(rt);
      const n = 5, inF = 12, outF = 40;
      const init = fastfoodInit(inF, outF, rng(3), { d: 16 });
      const { d, blocks } = init;
      const G = randn(blocks * d, 4), S = randn(blocks * d, 5, 0.3), xs = randn(n * inF, 6), dys = randn(n * outF, 7);
      const ref = { B: init.B, G, S, perm: init.perm, blocks, d, outFeatures: outF };
      const t = (v: Float32Array) => tf.tensor2d(v, [blocks, d]);
      const w = { B: t(init.B), G: t(G), S: t(S), perm: tf.tensor2d(Int32Array.from(init.perm), [blocks, d], 'int32') };
      const x = tf.tensor2d(xs, [n, inF]), dy = tf.tensor2d(dys, [n, outF]);
      const y = df.fastfood(x, w, outF);
      expectEqual(y.shape, [n, outF], 'tfjs fastfood y shape');
      expectClose(await y.data(), fastfoodRef(xs, n, inF, ref).y, TOL, 'tfjs fastfood y (inference kernel)');
      const grads = tf.grads((x: TF.Tensor, B: TF.Tensor, G: TF.Tensor, S: TF.Tensor) =>
        tf.sum(tf.mul(df.fastfood(x, { B, G, S, perm: w.perm }, outF), dy)))([x, w.B, w.G, w.S]);
      const r = fastfoodBackwardRef(xs, n, inF, ref, dys);
      const names = ['dx', 'dB', 'dG', 'dS'] as const;
      for (let i = 0; i < 4; i++) expectClose(await grads[i]!.data(), r[names[i]!], TOL, `tfjs fastfood ${names[i]}`);
      const bad = Int32Array.from(init.perm);
      bad[1] = bad[0]!;
      const badPerm = tf.tensor2d(bad, [blocks, d], 'int32');
      await expectThrows(() => df.fastfood(x, { ...w, perm: badPerm }, outF), /fastfood: perm is not a permutation: block 0 has a repeated entry/, 'bad perm');
      await expectThrows(() => df.fastfood(x, { ...w, B: tf.tensor2d(init.B, [blocks * 2, d / 2]) }, outF), /fastfood: G has shape \[3,16\] but B has shape \[6,8\]/, 'mismatched B');
      tf.dispose([x, dy, y, badPerm, ...grads, ...Object.values(w)]);
    },
  },
  {
    name: 'tfjs: a Dense layer swapped for AdaptiveFastfood trains with model.fit on MNIST (loss falls), and saves and loads through tfjs IO',
    async run(rt) {
      const { tf, df } = await tfjsOn(rt);
      const { loadMnist } = await import('../../../src/data/mnist.js');
      const N = 256, px = 28 * 28;
      const train = await loadMnist('train', { limit: N });
      const xs = tf.tensor2d(train.images.subarray(0, N * px), [N, px]);
      const ys = tf.oneHot(tf.tensor1d(Int32Array.from(train.labels.subarray(0, N)), 'int32'), 10);
      const model = tf.sequential({
        layers: [
          df.adaptiveFastfood({ units: 512, seed: 7, inputShape: [px] }), // was tf.layers.dense({ units: 512 })
          tf.layers.activation({ activation: 'relu' }),
          tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        ],
      });
      expectEqual(model.layers[0]!.getWeights().map((w) => `${w.shape}:${w.dtype}`), ['1,1024:float32', '1,1024:float32', '1,1024:float32', '1,1024:int32'], 'AdaptiveFastfood weights');
      expectEqual(model.countParams(), 4 * 1024 + 5130, 'parameters');
      model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
      const h = await model.fit(xs, ys, { epochs: 3, batchSize: 64, shuffle: false, verbose: 0 });
      const loss = h.history.loss as number[];
      const falls = loss.every((v, i) => Number.isFinite(v) && (i === 0 || v < loss[i - 1]!)) && loss[2]! < 0.9 * loss[0]!;
      if (!falls) throw new Error(`loss did not fall every epoch and by 10% in all: ${loss.map((v) => v.toFixed(3))}`);
      const probe = xs.slice([0, 0], [32, px]);
      const before = await (model.predict(probe) as TF.Tensor).data();
      let artifacts: TF.io.ModelArtifacts | undefined;
      await model.save(tf.io.withSaveHandler(async (a) => { artifacts = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
      const back = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
      expectEqual(back.layers[0]!.getClassName(), 'AdaptiveFastfood', 'loaded layer class');
      expectClose(await (back.predict(probe) as TF.Tensor).data(), before, { atol: 1e-6, rtol: 1e-5 }, 'loaded model predictions');
      tf.dispose([xs, ys, probe]);
      model.dispose();
      back.dispose();
    },
  },
];
