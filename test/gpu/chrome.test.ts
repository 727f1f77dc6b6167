import { afterAll, beforeAll, describe, it } from 'vitest';
import { mnistDir } from '../../src/data/mnist.js';
import { openInChrome, type ChromeSession } from '../../examples/chrome.js';
import { cases } from './cases/index.js';

// Chrome must really run in CI; DEEPFRIED_SKIP_CHROME=1 skips it on purpose, and says so.
const skip = process.env.DEEPFRIED_SKIP_CHROME === '1';
let s: ChromeSession | undefined;
let adapter = '';
let ran = 0;

beforeAll(async () => {
  if (skip) return;
  const dir = await mnistDir();
  const mnist = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
  s = await openInChrome('test/gpu/browser-entry.ts', '__deepfriedTests', Object.fromEntries(mnist.map((f) => [`/mnist/${f}`, `${dir}/${f}`])));
  adapter = await s.page.evaluate('__deepfriedTests.adapter()') as string;
}, 120_000);
afterAll(async () => {
  console.log(skip ? 'GPU cases: SKIPPED in headless Chrome (DEEPFRIED_SKIP_CHROME=1)'
    : `GPU cases: ${ran} of ${cases.length} ran in headless Chrome (adapter ${adapter})`);
  await s?.close();
});

describe.skipIf(skip)('gpu (chrome)', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const r = await s!.page.evaluate((n) => (globalThis as any).__deepfriedTests.runCase(n), c.name) as { ok: boolean; error?: string };
      if (!r.ok) throw new Error(r.error);
      ran++;
    });
  }
});
