import { kernel, rw } from '../../../kernels/common.js';
import { createRuntime } from '../../../src/api.js';
import { expectClose, expectEqual, expectThrows, randn, type GpuCase, runEncoded } from '../harness.js';

export const runtimeCases: GpuCase[] = [
  {
    name: 'runtime: subgroups are used where the device has them and the lane check passes, and not where it fails',
    async run(rt) {
      const feature = rt.device.features.has('subgroups');
      expectEqual([rt.hasSubgroups, rt.subgroupLanes >= 4 || !feature], [feature, true], 'hasSubgroups, lanes ≥ 4');
      const shared = await createRuntime({ device: rt.device });
      try {
        expectEqual(shared.hasSubgroups, feature, 'a runtime on a caller\'s device');
        await shared.verifySubgroups(256); // no subgroup is that large: the check must fail
        expectEqual([shared.hasSubgroups, shared.subgroupLanes], [false, 0], 'after a failed lane check');
      } finally {
        shared.destroy();
      }
      expectEqual(rt.device.features.has('subgroups'), feature, 'the shared device is still usable');
    },
  },
  {
    name: 'runtime: tensor upload and read round-trip (f32, i32, u32)',
    async run(rt) {
      const f = randn(1000, 1);
      const t = rt.tensor(f, [10, 100]);
      expectClose(await t.read(), f, { atol: 0, rtol: 0 }, 'f32');
      const i = new Int32Array([-3, 0, 7]);
      expectEqual([...(await rt.tensor(i, [3]).read())], [-3, 0, 7], 'i32');
      const u = new Uint32Array([1, 2 ** 31, 5]);
      expectEqual([...(await rt.tensor(u, [3]).read())], [1, 2 ** 31, 5], 'u32');
      t.dispose();
    },
  },
  {
    name: 'runtime: bad tensors are rejected with a named error',
    async run(rt) {
      await expectThrows(() => rt.tensor(new Float32Array(5), [2, 3]), /5 elements but shape \[2,3\] needs 6/, 'length');
      await expectThrows(() => rt.tensor(new Float32Array([1, NaN]), [2]), /non-finite value \(NaN\) at index 1/, 'NaN');
      await expectThrows(() => rt.tensor(new Float32Array([Infinity]), [1]), /non-finite/, 'Inf');
      await expectThrows(() => rt.tensor(new Float32Array(2), [2, 0]), /positive integer/, 'zero dim');
      // A typed array where the shape belongs is described, not printed element by element.
      const big = new Float32Array(4000);
      await expectThrows(() => rt.tensor(big, big as unknown as number[]), /shape must be a non-empty array, got a Float32Array of 4000 elements$/, 'typed array as shape');
      await expectThrows(() => rt.tensor([4, 1000] as unknown as Float32Array, big as unknown as number[]), /takes the data first: the arguments look swapped/, 'swapped arguments');
      await expectThrows(() => rt.empty([rt.limits.maxBufferSize]), /over this device's limit/, 'too large');
      const t = rt.tensor(new Float32Array(4), [4]);
      t.dispose();
      await expectThrows(() => t.read(), /used after dispose/, 'disposed');
    },
  },
  {
    name: 'runtime: a WGSL error is thrown naming the kernel',
    async run(rt) {
      const bad = kernel('broken_kernel', [rw('y')], [['n', 'u32']], `@compute @workgroup_size(64) fn main() { let x: f32 = undefined_thing; }`);
      await expectThrows(() => rt.prepare(bad), /kernel "broken_kernel" does not compile[\s\S]*undefined_thing/, 'wgsl error');
      // compiled beside good kernels, the error still names the broken one (and no good one fails)
      const good = (i: number) => kernel(`good_kernel_${i}`, [rw('y')], [['n', 'u32']], `@compute @workgroup_size(64) fn main() { y[${i}] = f32(P.n) + ${i}.0; }`);
      const bad2 = kernel('broken_kernel_2', [rw('y')], [['n', 'u32']], `@compute @workgroup_size(64) fn main() { let x: f32 = other_undefined_thing; }`);
      const all = [bad2, good(1), good(2), good(3)].map((k) => rt.prepare(k).then(() => 'ok', (e: Error) => e.message));
      const got = await Promise.all(all);
      expectEqual(got.map((m) => m === 'ok' ? 'ok' : /^deepfried: WGSL of kernel "broken_kernel_2" does not compile/.test(m) ? 'named' : m), ['named', 'ok', 'ok', 'ok'], 'concurrent compiles');
    },
  },
  {
    name: 'runtime: pipeline cache keys on the code and the override constants',
    async run(rt) {
      const body = `override V: f32 = 0.0;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) { if (g.x < P.n) { y[g.x] = V; } }`;
      const out: number[] = [];
      for (const V of [1, 2]) {
        const k = kernel('fill', [rw('y')], [['n', 'u32']], body, { V });
        const y = rt.empty([70]);
        await runEncoded(rt, 'fill', () => [{ kernel: k, buffers: [y], params: { n: 70 }, workgroups: 2 }]);
        const v = await y.read();
        out.push(v[0]!, v[69]!);
        y.dispose();
      }
      expectEqual(out, [1, 1, 2, 2], 'fill values');
    },
  },
  {
    name: 'runtime: dispatches past maxComputeWorkgroupsPerDimension fold into y',
    async run(rt) {
      const n = rt.limits.maxComputeWorkgroupsPerDimension + 37;
      const k = kernel('mark', [rw('y')], [['n', 'u32']], `
@compute @workgroup_size(1) fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = flatWorkgroup(w, nw);
  if (i < P.n) { y[i] = f32(i % 1000u); }
}`);
      const y = rt.empty([n]);
      await runEncoded(rt, 'mark', () => [{ kernel: k, buffers: [y], params: { n }, workgroups: n }]);
      const v = await y.read();
      expectEqual([v[0], v[n - 1], v[65535]], [0, (n - 1) % 1000, 65535 % 1000], 'marks');
      y.dispose();
    },
  },
  {
    name: 'runtime: a lost device is named on the next call; destroying a runtime on a caller\'s device leaves the device working',
    async run(rt) {
      const shared = await createRuntime({ device: rt.device });
      const mine = rt.tensor(randn(8, 5), [8]);
      const held = [shared.tensor(randn(16, 2), [2, 8]), await shared.fwht(shared.wrap(mine.buffer, [8]))];
      expectEqual(shared.stats().liveBuffers > 0, true, 'the shared runtime holds buffers');
      shared.destroy();
      expectEqual([shared.stats().liveBuffers, shared.stats().liveBytes], [0, 0], 'nothing left on the caller\'s device');
      await expectThrows(() => held[0]!.read(), /rt\.destroy\(\) was called/, 'a tensor of a destroyed runtime');
      expectClose(await mine.read(), randn(8, 5), { atol: 0, rtol: 0 }, 'a wrapped caller buffer survives');
      mine.dispose();
      const x = rt.tensor(randn(16, 3), [2, 8]);
      const y = await rt.fwht(x);
      expectEqual(y.shape, [2, 8], 'fwht on the caller\'s device after the shared runtime was destroyed');
      x.dispose();
      y.dispose();
      const own = await createRuntime();
      const t = own.tensor(randn(8, 4), [8]);
      own.device.destroy();
      await own.device.lost;
      await expectThrows(() => own.tensor(new Float32Array(8), [8]), /GPU device was lost \(destroyed/, 'tensor after loss');
      await expectThrows(() => own.fwht(t), /GPU device was lost \(destroyed/, 'fwht after loss');
      await expectThrows(() => t.read(), /GPU device was lost \(destroyed/, 'read after loss');
      own.destroy();
    },
  },
  {
    name: 'runtime: functional calls (fwd and bwd of every layer op) leave no buffer behind',
    async run(rt) {
      const inUse = () => rt.stats().liveBuffers - rt.stats().pooledBuffers;
      const bytesInUse = () => rt.stats().liveBytes - rt.stats().pooledBytes;
      const t = (shape: number[], seed: number) => rt.tensor(randn(shape.reduce((a, b) => a * b, 1), seed), shape);
      const x = t([3, 4, 6, 6], 1), w = t([5, 4, 3, 3], 2), b = t([5], 3);
      const xf = t([3, 12], 4), B = t([2, 16], 5), G = t([2, 16], 6), S = t([2, 16], 7);
      const perm = new Uint32Array(32).map((_, i) => (i * 5) % 16);
      const wl = t([7, 12], 8), bl = t([7], 9);
      const dyc = t([3, 5, 6, 6], 10), dyf = t([3, 20], 11), dyl = t([3, 7], 12), dyp = t([3, 4, 3, 3], 13);
      await rt.sync(); // buffers freed while work was queued are pooled once it is submitted
      const before = inUse(), beforeBytes = bytesInUse();
      const p = { B, G, S, perm, outFeatures: 20 };
      const outs = [
        await rt.conv2d(x, w, b, { padding: 1 }),
        ...Object.values(await rt.conv2dBackward(x, w, dyc, { padding: 1 })),
        await rt.fastfood(xf, p),
        ...Object.values(await rt.fastfoodBackward(xf, p, dyf)),
        await rt.linear(xf, wl, bl),
        ...Object.values(await rt.linearBackward(xf, wl, dyl)),
        await rt.maxPool2d(x, { kernel: 2 }),
        await rt.maxPool2dBackward(x, dyp, { kernel: 2 }),
        await rt.fwht(B),
      ];
      // once the queue is submitted, the results are what should be live, and nothing else (no
      // scratch, no uniforms, no staging buffer)
      await rt.sync();
      expectEqual([inUse()], [before + outs.length], 'buffers in use after the calls');
      const outBytes = outs.reduce((a, o) => a + o.buffer.size, 0);
      expectEqual([bytesInUse()], [beforeBytes + outBytes], 'bytes in use after the calls (stats().liveBytes − pooledBytes)');
      for (const o of outs) o.dispose();
      expectEqual([inUse(), bytesInUse()], [before, beforeBytes], 'buffers and bytes in use after disposing the results');
      for (const u of [x, w, b, xf, B, G, S, wl, bl, dyc, dyf, dyl, dyp]) u.dispose();
    },
  },
];

