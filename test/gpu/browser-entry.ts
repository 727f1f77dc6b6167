// Runs inside headless Chrome: exposes the GPU cases to the Node side of chrome.test.ts.
import { createRuntime, type Runtime } from '../../src/api.js';
import { cases } from './cases/index.js';

let rt: Runtime | undefined;
async function runCase(name: string): Promise<{ ok: boolean; error?: string }> {
  const c = cases.find((k) => k.name === name);
  if (!c) return { ok: false, error: `no case named ${name}` };
  try {
    rt ??= await createRuntime();
    await c.run(rt);
    return { ok: true };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) };
  }
}
async function adapter(): Promise<string> {
  rt ??= await createRuntime();
  return JSON.stringify({ ...rt.adapterInfo, subgroupLanes: rt.subgroupLanes });
}
(globalThis as Record<string, unknown>).__deepfriedTests = { runCase, adapter };
