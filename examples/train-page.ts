// Runs inside headless Chromium for `npm run train -- --runtime chrome`: MNIST comes from the
// runner's server (/mnist/...), progress goes back through functions the runner exposes.
import { createRuntime } from '../src/api.js';
import { loadMnist } from '../src/data/mnist.js';
import { fitMnist, type FitEvent, type MnistRun } from './mnist-fit.js';

const g = globalThis as unknown as {
  __deepfriedEvent(e: FitEvent): Promise<void>;
  __deepfriedSave(b64: string): Promise<void>;
  __deepfriedTrain: unknown;
};
const toB64 = (u: Uint8Array) => { let s = ''; for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode(...u.subarray(i, i + 0x8000)); return btoa(s); };
const fromB64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

g.__deepfriedTrain = async (opts: MnistRun, trainLimit: number, testLimit: number, resume: string | null, wantSave: boolean) => {
  const rt = await createRuntime();
  const [train, test] = await Promise.all([
    loadMnist('train', { limit: trainLimit, baseUrl: '/mnist' }), loadMnist('test', { limit: testLimit, baseUrl: '/mnist' }),
  ]);
  try {
    return await fitMnist(rt, train, test, opts, {
      onEvent: (e) => void g.__deepfriedEvent(e),
      resume: resume ? fromB64(resume) : undefined,
      save: wantSave ? (b) => g.__deepfriedSave(toB64(b)) : undefined,
    });
  } finally {
    rt.destroy();
  }
};
