// Adapter/device acquisition: navigator.gpu in a browser, Dawn (the `webgpu` package) in Node.
export interface Acquired {
  gpu: GPU;
  adapter: GPUAdapter;
  /** Node only: the object `create()` returned. Dawn crashes the process once it is collected,
   * so the runtime holds it for its whole life. */
  keepAlive?: unknown;
}

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const isNode = typeof process !== 'undefined' && !!process.versions?.node;

export async function acquireAdapter(powerPreference?: GPUPowerPreference): Promise<Acquired> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) {
    const adapter = await nav.gpu.requestAdapter({ powerPreference });
    if (!adapter) throw new Error('deepfried: navigator.gpu.requestAdapter() returned null (is WebGPU enabled? the page must be a secure context)');
    return { gpu: nav.gpu, adapter };
  }
  if (!isNode) throw new Error('deepfried: no WebGPU here: navigator.gpu is missing (needs a secure context, http://127.0.0.1 or https)');
  const name = 'webgpu';
  const dawn = (await import(/* @vite-ignore */ name)) as { create(o: string[]): GPU; globals: Record<string, unknown> };
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const tryCreate = async () => {
    // Every deepfried kernel writes its workgroup memory before reading it, so Dawn's zero-fill of
    // workgroup memory is redundant; on SwiftShader it also compiles at ~1.4 ms per f32
    // (11 s for an 8192-float array). Browsers keep the default.
    const gpu = dawn.create(['enable-dawn-features=disable_workgroup_init']);
    return { gpu, adapter: await gpu.requestAdapter({ powerPreference }), keepAlive: gpu };
  };
  let got = await tryCreate();
  // No usable Vulkan driver by default (a machine without a GPU): fall back to the SwiftShader
  // CPU driver that Debian's chromium package ships. The loader re-reads the variable per instance.
  const env = process.env;
  if (!got.adapter && !env.VK_ICD_FILENAMES && !env.VK_DRIVER_FILES && (await fileExists(SWIFTSHADER_ICD))) {
    env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    keepForever.push(got.keepAlive);
    got = await tryCreate();
  }
  if (!got.adapter) {
    throw new Error('deepfried: Dawn found no WebGPU adapter. Install a Vulkan driver and loader (libvulkan1), ' +
      `or on a machine without a GPU install chromium and set VK_ICD_FILENAMES=${SWIFTSHADER_ICD}`);
  }
  return { gpu: got.gpu, adapter: got.adapter, keepAlive: got.keepAlive };
}

/** Instances that must never be collected (see Acquired.keepAlive). */
const keepForever: unknown[] = [];
export function keepAliveForever(o: unknown): void { keepForever.push(o); }

async function fileExists(path: string): Promise<boolean> {
  const fs = 'node:fs/promises';
  try {
    await ((await import(/* @vite-ignore */ fs)) as typeof import('node:fs/promises')).access(path);
    return true;
  } catch {
    return false;
  }
}
