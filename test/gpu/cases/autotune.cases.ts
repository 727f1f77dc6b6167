// Autotuning (src/nn/autotune.ts): every candidate kernel choice is correct; a runtime made with
// { autotune: true } measures the candidates once per adapter, model and batch, and a second
// runtime reuses the cached choice; a corrupt cache is ignored with a warning.
import { createRuntime } from '../../../src/api.js';
import { autotuneCachePath, candidatesFor, clearAutotuneCache, verifyCandidate } from '../../../src/nn/autotune.js';
import { Conv2d, Fastfood, Flatten, Linear, MaxPool2d, ReLU } from '../../../src/nn/layers.js';
import { Sequential } from '../../../src/nn/model.js';
import { compileTrainer } from '../../../src/nn/trainer.js';
import { nodeImport } from '../../../src/util/node.js';
import { expectEqual, type GpuCase } from '../harness.js';

const isNode = typeof process !== 'undefined' && !!process.versions?.node;
/** A net that uses every tunable kernel: conv (backward direct or GEMM), matmul tiles, Fastfood, max-pool. */
const tiny = () => new Sequential([new Conv2d(1, 4, 3), new MaxPool2d(2), new Flatten(), new Fastfood(64, 64, { adaptive: true }), new ReLU(), new Linear(64, 10)], [1, 10, 10]);

export const autotuneCases: GpuCase[] = [
  {
    name: 'autotune: every candidate is verified against the float64 references; { autotune: true } measures once, a second runtime reuses the cache; a corrupt cache is ignored with a warning',
    async run(rt) {
      if (isNode) {
        const { mkdtemp } = await nodeImport<typeof import('node:fs/promises')>('node:fs/promises');
        const { tmpdir } = await nodeImport<typeof import('node:os')>('node:os');
        process.env.DEEPFRIED_CACHE_DIR = await mkdtemp(`${tmpdir()}/deepfried-autotune-`);
      }
      await clearAutotuneCache();
      const cands = candidatesFor(tiny());
      expectEqual(cands.length, 6, 'candidates for a net with conv, linear, Fastfood and max-pool');
      for (const c of cands) await verifyCandidate(rt, c);
      const opts = { batch: 4, optimizer: { kind: 'sgd' as const, lr: 0.01 } };
      const tuneOnce = async () => {
        const a = await createRuntime({ device: rt.device, autotune: true });
        try {
          const model = tiny().init(a, 1);
          const t = await compileTrainer(a, model, opts);
          await t.step(new Float32Array(4 * 100), new Int32Array(4));
          const st = await t.stats();
          if (!Number.isFinite(st.loss)) throw new Error(`the tuned trainer's loss is ${st.loss}`);
          t.destroy();
          return t.autotuned!;
        } finally {
          a.destroy();
        }
      };
      const first = await tuneOnce();
      expectEqual([first.cached, first.candidates.length, first.candidates.every((c) => c.verified && c.stepMs! > 0)], [false, 7, true], 'first: measured, 7 candidates, all verified and timed');
      expectEqual(first.candidates.some((c) => JSON.stringify(c.tuning) === JSON.stringify(first.tuning)), true, 'the choice is a candidate');
      const second = await tuneOnce();
      expectEqual([second.cached, second.tuning], [true, first.tuning], 'second runtime: the cached choice');
      if (isNode) {
        const { writeFile } = await nodeImport<typeof import('node:fs/promises')>('node:fs/promises');
        await writeFile(await autotuneCachePath(), '{ not json');
        const warnings: string[] = [];
        const warn = console.warn;
        console.warn = (m: string) => { warnings.push(String(m)); };
        let third;
        try { third = await tuneOnce(); } finally { console.warn = warn; }
        expectEqual(third.cached, false, 'a corrupt cache file: measured again');
        if (!warnings.some((w) => /autotune cache .* is not usable/.test(w))) throw new Error(`no warning about the corrupt cache (got ${JSON.stringify(warnings)})`);
      }
      await clearAutotuneCache();
    },
  },
];
