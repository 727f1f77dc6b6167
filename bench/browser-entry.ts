// Runs inside headless Chrome (bench/run.ts --runtime chrome): the same suite, results handed back
// to Node as JSON. Progress lines go to console.log, which the Node side forwards.
import { runSuite } from './lib/suite.js';
import type { SuiteOptions } from './lib/types.js';

async function run(opts: SuiteOptions): Promise<string> {
  return JSON.stringify(await runSuite(opts, (l) => console.log(l)));
}
(globalThis as Record<string, unknown>).__deepfriedBench = { run };
