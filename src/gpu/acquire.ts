// Adapter/device acquisition: navigator.gpu in a browser, Dawn (the `webgpu` package) in Node.
import { nodeImport } from '../util/node.js';
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
  const env = process.env;
  await ensureRuntimeDir(env);
  const tryCreate = async () => {
    const gpu = dawn.create(DAWN_FLAGS);
    return { gpu, adapter: await gpu.requestAdapter({ powerPreference }), keepAlive: gpu };
  };
  // No usable Vulkan driver by default (a machine without a GPU): fall back to the SwiftShader
  // CPU driver that Debian's chromium package ships. The loader re-reads the variable per instance.
  const canFallBack = !env.VK_ICD_FILENAMES && !env.VK_DRIVER_FILES && (await fileExists(SWIFTSHADER_ICD));
  // Dawn prints a warning to fd 2 for every device it rejects (here Mesa 22.3's lavapipe:
  // "Vulkan shaderUniform*ArrayDynamicIndexing required"), with no log level or callback in dawn.node.
  // So the default drivers are tried in a child whose stderr we filter; its warnings only matter if
  // SwiftShader fails too.
  const probe = canFallBack ? await probeDefaultDrivers(name, powerPreference) : null;
  if (probe && !probe.found) env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  let got = await tryCreate();
  if (!got.adapter && canFallBack && env.VK_ICD_FILENAMES !== SWIFTSHADER_ICD) {
    env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    keepForever.push(got.keepAlive);
    got = await tryCreate();
  }
  if (!got.adapter) {
    if (probe?.warnings) process.stderr.write(probe.warnings);
    throw new Error('deepfried: Dawn found no WebGPU adapter. Install a Vulkan driver and loader (libvulkan1), ' +
      `or on a machine without a GPU install chromium and set VK_ICD_FILENAMES=${SWIFTSHADER_ICD}`);
  }
  return { gpu: got.gpu, adapter: got.adapter, keepAlive: got.keepAlive };
}

// Every deepfried kernel writes its workgroup memory before reading it, so Dawn's zero-fill of
// workgroup memory is redundant; on SwiftShader it also compiles at ~1.4 ms per f32
// (11 s for an 8192-float array). Browsers keep the default.
const DAWN_FLAGS = ['enable-dawn-features=disable_workgroup_init'];

/** Mesa's implicit VK_LAYER_MESA_device_select layer calls wl_display_connect() in every
 * vkEnumeratePhysicalDevices, and libwayland-client prints "error: XDG_RUNTIME_DIR is invalid or
 * not set in the environment." when the variable is unset or relative. Give it a private directory
 * (no compositor there, so the connect fails quietly). Kept for the process: later instances
 * (the bench's tfjs peer) enumerate too. */
async function ensureRuntimeDir(env: NodeJS.ProcessEnv): Promise<void> {
  if (process.platform !== 'linux' || env.XDG_RUNTIME_DIR?.startsWith('/')) return;
  const fs = await nodeImport<typeof import('node:fs')>('node:fs');
  const os = await nodeImport<typeof import('node:os')>('node:os');
  const uid = process.getuid?.() ?? -1;
  const dir = `${os.tmpdir()}/deepfried-runtime-${uid}`;
  try {
    try { fs.mkdirSync(dir, { mode: 0o700 }); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
    const st = fs.lstatSync(dir);
    const ours = st.isDirectory() && st.uid === uid && (st.mode & 0o777) === 0o700;
    env.XDG_RUNTIME_DIR = ours ? dir : fs.mkdtempSync(`${os.tmpdir()}/deepfried-runtime-`);
  } catch {
    // no writable tmpdir: leave it unset (only the message above is lost)
  }
}

interface Probe {
  found: boolean;
  /** Dawn's "While initializing adapter" warnings from the child, for the no-adapter error. */
  warnings: string;
}

/** Asks a child process whether the default Vulkan drivers give an adapter; null if the child failed. */
async function probeDefaultDrivers(name: string, powerPreference?: GPUPowerPreference): Promise<Probe | null> {
  const { createRequire } = await nodeImport<typeof import('node:module')>('node:module');
  const { pathToFileURL } = await nodeImport<typeof import('node:url')>('node:url');
  const { execFile } = await nodeImport<typeof import('node:child_process')>('node:child_process');
  let url: string;
  try {
    url = pathToFileURL(createRequire(import.meta.url).resolve(name)).href;
  } catch {
    return null;
  }
  const code = 'const [, url, flags, pp] = process.argv; const { create } = await import(url);' +
    'const a = await create(JSON.parse(flags)).requestAdapter(pp ? { powerPreference: pp } : undefined);' +
    "process.stdout.write(a ? 'found' : 'none'); process.exit(0);";
  const args = ['--input-type=module', '-e', code, url, JSON.stringify(DAWN_FLAGS), powerPreference ?? ''];
  return new Promise((done) => {
    execFile(process.execPath, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const { warnings, rest } = splitAdapterWarnings(String(stderr));
      if (rest) process.stderr.write(rest);
      const out = String(stdout).trim();
      done(err || (out !== 'found' && out !== 'none') ? null : { found: out === 'found', warnings });
    });
  });
}

/** Separates Dawn's adapter-rejection warnings from the rest of a child's stderr. Dawn's LogMessage
 * writes "Warning: <message>", context lines (" - While initializing adapter (backend=…)", "    at …")
 * and a blank line. */
function splitAdapterWarnings(text: string): { warnings: string; rest: string } {
  let warnings = '';
  const rest = text.replace(/^Warning: .*\n(?:.+\n)*\n?/gm, (block) => {
    if (!/^ - While initializing adapter \(backend=/m.test(block)) return block;
    warnings += block;
    return '';
  });
  return { warnings, rest };
}

/** Instances that must never be collected (see Acquired.keepAlive). */
const keepForever: unknown[] = [];
export function keepAliveForever(o: unknown): void { keepForever.push(o); }

async function fileExists(path: string): Promise<boolean> {
  try {
    await (await nodeImport<typeof import('node:fs/promises')>('node:fs/promises')).access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Node only: sets `navigator.gpu` to a Dawn instance (the `webgpu` package, with the SwiftShader
 * fallback above), kept alive for the process's life, for libraries that look for WebGPU there
 * (tfjs-backend-webgpu registers itself at import time only if navigator.gpu exists). A no-op
 * where navigator.gpu exists already.
 */
export async function provideNavigatorGpu(): Promise<void> {
  if ((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu) return;
  if (!isNode) throw new Error('deepfried: no WebGPU here: navigator.gpu is missing (needs a secure context, http://127.0.0.1 or https)');
  const { gpu, keepAlive } = await acquireAdapter();
  keepAliveForever(keepAlive);
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
}
