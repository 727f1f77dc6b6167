// The examples the guides (docs/guide-*.md) and the README quote run as written, and do what they
// say: deepfried's kernels on a caller's own device and buffers, and a tfjs model whose Dense layer
// is swapped for AdaptiveFastfood.
import { describe, expect, it } from 'vitest';

describe('examples', () => {
  it('own-webgpu: a Fastfood forward and backward recorded into your own encoder on your own buffers match the float64 reference', async () => {
    const { main } = await import('../../examples/own-webgpu.js');
    const { maxError } = await main();
    expect(maxError).toBeLessThan(1e-4);
  }, 120_000);

  it('tfjs-layer: a tfjs model with AdaptiveFastfood for Dense trains (loss falls each epoch) and loads back through tfjs IO', async () => {
    const { main } = await import('../../examples/tfjs-layer.js');
    const { loss, params, sameAfterLoad } = await main({ images: 256, epochs: 3 });
    expect(loss.every((l, i) => Number.isFinite(l) && (i === 0 || l < loss[i - 1]!)), `loss ${loss}`).toBe(true);
    expect(params).toBe(4 * 1024 + 10 * 1024 + 10);
    expect(sameAfterLoad).toBe(true);
  }, 180_000);
});
