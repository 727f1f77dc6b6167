// The second training peer: @jax-js/jax (JAX for the browser: jit with kernel fusion, grad, WebGPU
// and wasm backends) training the paper's reference LeNet — conv 5×5 20 → maxpool 2 → conv 5×5 50 →
// maxpool 2 → linear 800→500 → relu → linear 500→10, softmax cross-entropy, plain SGD — one
// value-and-grad step plus the update per call, timed with the same rules as the tfjs peer
// (measurePeer: warm-up, a second warm-up when cheap, repetitions within the budget, each ending in
// a sync). Each configuration that runs is reported; one that cannot is reported with its reason.
//
// jax-js takes ownership of every array passed to a function (reference counting): `.ref` (and
// tree.ref) keeps an array alive across a call. A step consumes the parameters and returns new ones.
import type * as JaxNs from '@jax-js/jax';
import { provideNavigatorGpu } from '../../src/gpu/acquire.js';
import { randArray } from './context.js';
import { measurePeer } from './measure.js';
import type { Budget } from './stats.js';
import type { Stat } from './types.js';

type Jax = typeof JaxNs;
type JArray = JaxNs.Array;
export type JaxDevice = 'webgpu' | 'wasm';

export interface JaxConfig { device: JaxDevice; jit: boolean }
/** The configurations the bench measures: jitted on WebGPU, eager and jitted on wasm. */
export const JAX_CONFIGS: readonly JaxConfig[] = [
  { device: 'webgpu', jit: true },
  { device: 'wasm', jit: false },
  { device: 'wasm', jit: true },
];
export const jaxName = (c: JaxConfig): string => `jax-js ${c.device}${c.jit ? ' (jit)' : ' (eager)'}`;

export interface JaxPeer {
  jax: Jax;
  version: string;
  /** Per device: null where it initialised, else why not. */
  devices: Record<JaxDevice, string | null>;
  /** What the wasm backend runs on: worker threads need SharedArrayBuffer (a cross-origin isolated
   * page in a browser) and a global Worker (absent in Node). */
  wasmThreads: string;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/**
 * Loads jax-js and initialises its wasm and WebGPU backends, each on its own so that one failing
 * leaves the other. jax-js looks for WebGPU at navigator.gpu only (its README: no WebGPU in Node);
 * in Node we put Dawn there (provideNavigatorGpu, as for tfjs; call it after a runtime exists, for
 * the SwiftShader fallback), so its WebGPU backend runs on the same adapter as ours.
 */
export async function loadJax(): Promise<JaxPeer> {
  let noGpu: string | null = null;
  if (isNode) {
    try {
      await provideNavigatorGpu();
    } catch (e) {
      noGpu = `no navigator.gpu in Node (${firstLine(e)})`;
    }
  }
  const jax = await import('@jax-js/jax');
  const devices: Record<JaxDevice, string | null> = { webgpu: null, wasm: null };
  for (const d of ['wasm', 'webgpu'] as const) {
    try {
      if (d === 'webgpu' && !(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu) {
        devices[d] = noGpu ?? 'no navigator.gpu on this page';
        continue;
      }
      const got = d === 'webgpu' ? await withUserAgent(() => jax.init(d)) : await jax.init(d);
      if (!got.includes(d)) devices[d] = `jax-js init("${d}") did not bring the backend up${d === 'webgpu' ? ' (no adapter, or requestDevice failed)' : ''}`;
    } catch (e) {
      devices[d] = `jax-js init("${d}") threw: ${firstLine(e)}`;
    }
  }
  const sab = typeof SharedArrayBuffer !== 'undefined', worker = typeof Worker !== 'undefined';
  const wasmThreads = sab && worker
    ? `multi-threaded (${typeof navigator !== 'undefined' && navigator.hardwareConcurrency || 4} workers)`
    : `single-threaded (${!sab ? 'no SharedArrayBuffer: the page is not cross-origin isolated' : ''}${!sab && !worker ? '; ' : ''}${!worker ? 'no global Worker' : ''})`;
  return { jax, version: JAX_VERSION, devices, wasmThreads };
}

/**
 * jax-js's WebGPU module reads navigator.userAgent.includes(…) when it loads; Node 20 has no
 * navigator of its own and the one provideNavigatorGpu() makes has only `gpu`. Lends it a userAgent
 * for the load and takes it away again (the bench's meta.userAgent reads navigator.userAgent).
 */
async function withUserAgent<T>(f: () => Promise<T>): Promise<T> {
  const nav = (globalThis as { navigator?: { userAgent?: string } }).navigator;
  if (!isNode || !nav || typeof nav.userAgent === 'string') return f();
  Object.defineProperty(nav, 'userAgent', { value: `Node.js/${process.version}`, configurable: true });
  try {
    return await f();
  } finally {
    delete (nav as { userAgent?: string }).userAgent;
  }
}

/** The installed version (package.json of @jax-js/jax). */
const JAX_VERSION = '0.1.25';

const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);

type Params = { w1: JArray; b1: JArray; w2: JArray; b2: JArray; w3: JArray; b3: JArray; w4: JArray; b4: JArray };

/** The reference net's parameter shapes (NCHW convs, [in, out] linears). */
const SHAPES: Record<keyof Params, number[]> = {
  w1: [20, 1, 5, 5], b1: [20], w2: [50, 20, 5, 5], b2: [50],
  w3: [800, 500], b3: [500], w4: [500, 10], b4: [10],
};
/** Init scale (uniform ±scale, about 1/√fan-in; not important for timing). */
const SCALE: Record<keyof Params, number> = { w1: 0.2, b1: 0, w2: 0.06, b2: 0, w3: 0.035, b3: 0, w4: 0.045, b4: 0 };

/** Softmax cross-entropy of the reference LeNet on a batch: x [N, 1, 28, 28], y one-hot [N, 10]. */
function lossOf(jax: Jax, p: Params, x: JArray, y: JArray): JArray {
  const { numpy: np, lax, nn } = jax;
  const n = x.shape[0]!;
  const pool = (a: JArray) => lax.reduceWindow(a, (w: JArray) => np.max(w), [2, 2], [2, 2]);
  const bias = (b: JArray, c: number) => b.reshape([1, c, 1, 1]);
  const h1 = pool(lax.conv(x, p.w1, [1, 1], 'VALID').add(bias(p.b1, 20)));
  const h2 = pool(lax.conv(h1, p.w2, [1, 1], 'VALID').add(bias(p.b2, 50)));
  const h3 = nn.relu(np.matmul(h2.reshape([n, 800]), p.w3).add(p.b3));
  const logits = np.matmul(h3, p.w4).add(p.b4);
  return nn.logSoftmax(logits, -1).mul(y).sum().mul(-1 / n);
}

export interface JaxRun { wallMs: Stat; loss: number; gpuBytes?: number }

/**
 * One configuration: builds the parameters and a batch on `cfg.device`, the step (valueAndGrad +
 * SGD, jitted or eager), and times it with measurePeer under `budget`. gpuBytes (WebGPU only):
 * bytes of GPU buffers jax-js created and has not destroyed, from before the parameters were made
 * to after the timed steps (its buffer pool included: it frees nothing to the device below 64 MiB).
 */
export async function jaxTrainStep(peer: JaxPeer, cfg: JaxConfig, batch: number, budget: Budget, lr = 0.01): Promise<JaxRun> {
  const why = peer.devices[cfg.device];
  if (why !== null) throw new Error(`unavailable: ${why}`);
  const { jax } = peer, { numpy: np, tree } = jax;
  const prevDevice = jax.defaultDevice();
  jax.defaultDevice(cfg.device);
  const mem = cfg.device === 'webgpu' ? trackBuffers(jax.getWebGPUDevice()) : null;
  let params: Params | null = null;
  let x: JArray | null = null, y: JArray | null = null;
  let jitted: { dispose(): void } | null = null;
  try {
    const mk = (k: keyof Params) => {
      const shape = SHAPES[k], n = shape.reduce((a, b) => a * b, 1);
      const v = SCALE[k] ? randArray(n).map((t) => t * SCALE[k]) : new Float32Array(n);
      return np.array(v, { shape, device: cfg.device });
    };
    params = Object.fromEntries((Object.keys(SHAPES) as (keyof Params)[]).map((k) => [k, mk(k)])) as Params;
    x = np.array(randArray(batch * 28 * 28).map((a) => (a + 1) / 2), { shape: [batch, 1, 28, 28], device: cfg.device });
    const labels = new Float32Array(batch * 10);
    for (let i = 0; i < batch; i++) labels[i * 10 + (i % 10)] = 1;
    y = np.array(labels, { shape: [batch, 10], device: cfg.device });

    const vg = jax.valueAndGrad((p: Params, xb: JArray, yb: JArray) => lossOf(jax, p, xb, yb));
    const step = (p: Params, xb: JArray, yb: JArray): [JArray, Params] => {
      const [loss, g] = vg(tree.ref(p), xb, yb) as unknown as [JArray, Params];
      const next = tree.map((w: JArray, d: JArray) => w.sub(d.mul(lr)), p, g) as unknown as Params;
      return [loss, next];
    };
    let run = step;
    if (cfg.jit) {
      const j = jax.jit(step);
      jitted = j;
      run = j as unknown as typeof step;
    }

    let last: JArray | null = null;
    const call = (): JArray => {
      const [loss, next] = run(params!, x!.ref, y!.ref);
      params = next;
      last = loss;
      return loss;
    };
    const sync = async () => { await jax.blockUntilReady([params, last]); };
    const dispose = (r: unknown) => (r as JArray).dispose();
    const wallMs = await measurePeer(budget, call, sync, dispose);
    // One more step to read its loss (a check that the step computes something finite).
    const l = call();
    const loss = (await l.data())[0]!; // data() consumes l
    if (!Number.isFinite(loss)) throw new Error(`the step's loss is ${loss}`);
    const gpuBytes = mem?.live();
    return { wallMs, loss, ...(gpuBytes !== undefined ? { gpuBytes } : {}) };
  } finally {
    if (params) tree.dispose(params);
    x?.dispose();
    y?.dispose();
    jitted?.dispose();
    mem?.restore();
    jax.defaultDevice(prevDevice);
  }
}

/** Counts the bytes of GPU buffers created on `device` and not yet destroyed, from now on. */
function trackBuffers(device: GPUDevice): { live(): number; restore(): void } {
  const own = Object.prototype.hasOwnProperty.call(device, 'createBuffer');
  const orig = device.createBuffer;
  let bytes = 0;
  device.createBuffer = function (desc: GPUBufferDescriptor): GPUBuffer {
    const b = orig.call(device, desc);
    bytes += b.size;
    const destroy = b.destroy;
    let gone = false;
    b.destroy = function (): undefined {
      if (!gone) { gone = true; bytes -= b.size; }
      return destroy.call(b);
    };
    return b;
  };
  return {
    live: () => bytes,
    restore: () => {
      if (own) device.createBuffer = orig;
      else delete (device as { createBuffer?: unknown }).createBuffer;
    },
  };
}
