// deepfried's kernels inside your own WebGPU code: your device, your buffers, your command encoder,
// your submit. A Fastfood forward and backward recorded into one encoder, checked against the
// float64 reference. `npx tsx examples/own-webgpu.ts` (run by test/unit/examples.test.ts; the README
// and docs/guide-frameworks.md quote it).
import { createRuntime, fastfoodInit, seeded } from '../src/index.js';
import { encodeFastfood, encodeFastfoodBackward } from '../src/kernels.js';
import { provideNavigatorGpu } from '../src/gpu/acquire.js';
import { fastfoodRef } from '../src/reference/fastfood.js';

export async function main(): Promise<{ maxError: number }> {
  await provideNavigatorGpu(); // Node only (a no-op in a browser)
  const adapter = (await navigator.gpu.requestAdapter())!;
  const device = await adapter.requestDevice(); // yours: default limits, your features

  // Your buffers (STORAGE usage), filled however you like.
  const n = 4, inF = 800, outF = 1024;
  const f = fastfoodInit(inF, outF, seeded(1)), shape = [f.blocks, f.d];
  const xs = Float32Array.from({ length: n * inF }, (_, i) => Math.sin(i));
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const buffer = (data: Float32Array | Uint32Array | number) => {
    const b = device.createBuffer({ size: typeof data === 'number' ? data * 4 : data.byteLength, usage });
    if (typeof data !== 'number') device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
    return b;
  };
  const mine = { x: buffer(xs), B: buffer(f.B), G: buffer(f.G), S: buffer(f.S), perm: buffer(f.perm), y: buffer(n * outF),
    a3: buffer(n * f.blocks * f.d), a5: buffer(n * f.blocks * f.d), dy: buffer(new Float32Array(n * outF).fill(1)),
    dx: buffer(n * inF), dB: buffer(f.blocks * f.d), dG: buffer(f.blocks * f.d), dS: buffer(f.blocks * f.d) };

  // deepfried on your device; rt.wrap views your buffers as tensors (never freed by deepfried).
  const rt = await createRuntime({ device });
  const x = rt.wrap(mine.x, [n, inF]), y = rt.wrap(mine.y, [n, outF]), dy = rt.wrap(mine.dy, [n, outF]);
  const p = { B: rt.wrap(mine.B, shape), G: rt.wrap(mine.G, shape), S: rt.wrap(mine.S, shape), perm: rt.wrap(mine.perm, shape, 'u32'), outFeatures: outF };
  const saved = { a3: rt.wrap(mine.a3, [n, f.blocks, f.d]), a5: rt.wrap(mine.a5, [n, f.blocks, f.d]) };
  const grads = { dx: rt.wrap(mine.dx, [n, inF]), dB: rt.wrap(mine.dB, shape), dG: rt.wrap(mine.dG, shape), dS: rt.wrap(mine.dS, shape) };

  // Record the forward and the backward into your encoder, submit it yourself, then release().
  const encoder = device.createCommandEncoder();
  const fwd = await rt.record(encoder, 'fastfood', (ctx) => encodeFastfood(ctx, x, p, y, saved));
  const bwd = await rt.record(encoder, 'fastfood backward', (ctx) => encodeFastfoodBackward(ctx, x, p, dy, saved, grads));
  const staging = device.createBuffer({ size: n * outF * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  encoder.copyBufferToBuffer(mine.y, 0, staging, 0, n * outF * 4);
  device.queue.submit([encoder.finish()]);
  fwd.release();
  bwd.release();

  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  const ref = fastfoodRef(xs, n, inF, { ...f, outFeatures: outF }).y;
  let maxError = 0;
  for (let i = 0; i < out.length; i++) maxError = Math.max(maxError, Math.abs(out[i]! - ref[i]!));
  console.log(`fastfood on your own device and buffers: y[0..3] = ${[...out.slice(0, 4)].map((v) => v.toFixed(4))}, max |error| vs float64 ${maxError.toExponential(2)}`);
  rt.destroy(); // frees what deepfried made; your device and buffers stay yours
  for (const b of [...Object.values(mine), staging]) b.destroy();
  device.destroy();
  return { maxError };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
