import { afterAll, beforeAll, describe, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/api.js';
import { cases } from './cases/index.js';

let rt: Runtime;
let ran = 0;
beforeAll(async () => { rt = await createRuntime(); });
afterAll(() => {
  console.log(`GPU cases: ${ran} of ${cases.length} ran in Node (Dawn, adapter ${JSON.stringify({ ...rt?.adapterInfo, subgroupLanes: rt?.subgroupLanes })})`);
  rt?.destroy();
});

describe('gpu (node)', () => {
  for (const c of cases) it(c.name, async () => { await c.run(rt); ran++; });
});
