// The peer: @tensorflow/tfjs-core with @tensorflow/tfjs-backend-webgpu on the same adapter, in the
// same process. In Node the backend needs navigator.gpu, which provideNavigatorGpu() (src/gpu/acquire.ts)
// gives it: a second instance of the `webgpu` package, kept referenced forever.
import type * as TF from '@tensorflow/tfjs-core';
import { provideNavigatorGpu } from '../../src/gpu/acquire.js';
import { measurePeer } from './measure.js';
import type { Budget } from './stats.js';
import type { Stat } from './types.js';

export type Tf = typeof TF;

export interface Peer {
  tf: Tf;
  adapter: string;
  /** Flushes tfjs's pending commands and waits until the GPU queue is idle. */
  sync(): Promise<void>;
  time(budget: Budget, call: () => TF.Tensor | TF.Tensor[] | TF.NamedTensorMap): Promise<Stat>;
}

interface WebGpuBackendLike {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
  adapterInfo?: { vendor?: string; architecture?: string };
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

export async function loadPeer(): Promise<Peer> {
  await provideNavigatorGpu();
  const tf = await import('@tensorflow/tfjs-core');
  await registerGradients();
  // The backend registers itself at import time, only if navigator.gpu exists by then.
  await import('@tensorflow/tfjs-backend-webgpu');
  const silence = console.warn;
  console.warn = () => {};
  try {
    if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed');
    await tf.ready();
  } finally {
    console.warn = silence;
  }
  const backend = tf.backend() as unknown as WebGpuBackendLike;
  const info = backend.adapterInfo ?? {};
  // What tfjs itself does before a read: end its open compute pass, submit its encoder.
  const sync = async () => {
    backend.endComputePassEncoder();
    if (backend.commandEncoder) backend.submitQueue();
    await backend.device.queue.onSubmittedWorkDone();
  };
  const dispose = (r: unknown) => tf.dispose(r as TF.TensorContainer);
  return {
    tf, adapter: `${info.vendor ?? '?'} ${info.architecture ?? ''}`.trim(), sync,
    time: (budget, call) => measurePeer(budget, () => tf.tidy(call), sync, dispose),
  };
}

/**
 * tfjs-core's entry does not register the gradients that optimizer.minimize needs (the union
 * package @tensorflow/tfjs does). In a bundle (Chrome, or Node after ../shared/gpu/pack.sh) the ESM
 * file imports fine; in unbundled Node it is ESM with extensionless imports, so we bundle it with
 * esbuild first. Its registry and engine live in tfjs's global namespace, so the bundled copy
 * registers into the instance the backend uses.
 */
async function registerGradients(): Promise<void> {
  const bundled = () => import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  if (!isNode) {
    await bundled();
    return;
  }
  const names = ['esbuild', 'node:module'];
  let esbuild: typeof import('esbuild');
  try {
    esbuild = (await import(/* @vite-ignore */ names[0]!)) as typeof import('esbuild');
  } catch {
    // No esbuild: we are a bundle (../shared/gpu/pack.sh), in which esbuild already resolved the
    // import above at pack time.
    await bundled();
    return;
  }
  const { createRequire } = (await import(/* @vite-ignore */ names[1]!)) as typeof import('node:module');
  const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  const built = await esbuild.build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', write: false, logLevel: 'silent' });
  await import(/* @vite-ignore */ `data:text/javascript;base64,${Buffer.from(built.outputFiles[0]!.text).toString('base64')}`);
}
