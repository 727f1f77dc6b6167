// The pipeline cache: one compiled pipeline per kernel key (kernels/common.ts family()), compiled
// on first use with its errors turned into Errors that name the kernel.
import type { KernelInstance } from '../../kernels/common.js';

/** A kernel's compiled pipeline (rt.prepare), shared by every runtime on the device. */
export interface Prepared {
  /** The kernel it was compiled from (the first instance with this key). */
  kernel: KernelInstance;
  /** The compute pipeline. */
  pipeline: GPUComputePipeline;
  /** Its bind group layout: binding 0 the Params uniform, 1..n the storage buffers. */
  layout: GPUBindGroupLayout;
}

/** One cache per device: a pipeline depends on the device and the kernel's key only, so runtimes
 * sharing a device (other tunings, a caller's framework) share compiled pipelines too. */
const caches = new WeakMap<GPUDevice, PipelineCache>();

export class PipelineCache {
  static for(device: GPUDevice): PipelineCache {
    let c = caches.get(device);
    if (!c) { c = new PipelineCache(device); caches.set(device, c); }
    return c;
  }

  #layouts = new Map<string, GPUBindGroupLayout>();
  #pending = new Map<string, Promise<Prepared>>();
  #ready = new Map<string, Prepared>();
  /** Compiles started (cache misses), for tests and stats. */
  misses = 0;
  constructor(readonly device: GPUDevice) {}

  get size(): number { return this.#pending.size; }

  /** The compiled pipeline when it is ready (no await on the hot path), else a promise of it. */
  get(kernel: KernelInstance): Prepared | Promise<Prepared> {
    const ready = this.#ready.get(kernel.key);
    if (ready) return ready;
    let p = this.#pending.get(kernel.key);
    if (!p) {
      this.misses++;
      p = this.#compile(kernel).then((prep) => { this.#ready.set(kernel.key, prep); return prep; });
      this.#pending.set(kernel.key, p);
      p.catch(() => this.#pending.delete(kernel.key));
    }
    return p;
  }

  /** The compiled pipeline now, compiling it synchronously on a miss (createComputePipeline): for
   * callers that must submit before they return (GpuRuntime.submitNow). A WGSL or pipeline error
   * is a validation error in the caller's error scope, not a throw. */
  getSync(kernel: KernelInstance): Prepared {
    const ready = this.#ready.get(kernel.key);
    if (ready) return ready;
    this.misses++;
    const d = this.device, label = `deepfried:${kernel.name}`, layout = this.layout(kernel);
    const module = d.createShaderModule({ label, code: kernel.code });
    const pipeline = d.createComputePipeline({
      label, layout: d.createPipelineLayout({ label, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: kernel.entryPoint, constants: kernel.constants },
    });
    const prep = { kernel, pipeline, layout };
    this.#ready.set(kernel.key, prep);
    if (!this.#pending.has(kernel.key)) this.#pending.set(kernel.key, Promise.resolve(prep));
    return prep;
  }

  /** Forgets a kernel whose synchronous compile failed, so the next use compiles it again. */
  forget(key: string): void {
    this.#ready.delete(key);
    this.#pending.delete(key);
  }

  /** The bind group layout of a kernel (binding 0 its Params uniform, 1..n its storage buffers):
   * known without compiling, so bind groups can be made while the pipeline still compiles. */
  layout(kernel: KernelInstance): GPUBindGroupLayout {
    const key = kernel.bindings.map((b) => (b.access === 'read' ? 'r' : 'w')).join('');
    let l = this.#layouts.get(key);
    if (!l) {
      l = this.device.createBindGroupLayout({
        label: `deepfried:${key || 'params'}`,
        entries: [
          { binding: 0, visibility: 4 /* COMPUTE */, buffer: { type: 'uniform' } },
          ...kernel.bindings.map((b, i) => ({
            binding: i + 1, visibility: 4,
            buffer: { type: (b.access === 'read' ? 'read-only-storage' : 'storage') as GPUBufferBindingType },
          })),
        ],
      });
      this.#layouts.set(key, l);
    }
    return l;
  }

  clear(): void {
    this.#layouts.clear();
    this.#pending.clear();
    this.#ready.clear();
  }

  async #compile(kernel: KernelInstance): Promise<Prepared> {
    const d = this.device;
    const label = `deepfried:${kernel.name}`;
    // Push and pop with no await between: error scopes are one stack per device, and a scope left
    // open across an await would catch (and name) another kernel's compile running concurrently.
    d.pushErrorScope('validation');
    const module = d.createShaderModule({ label, code: kernel.code });
    const scope = d.popErrorScope();
    const [info, moduleError] = await Promise.all([module.getCompilationInfo(), scope]);
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length || moduleError) {
      const text = errors.map((m) => `line ${m.lineNum}:${m.linePos}: ${m.message}`).join('\n') || moduleError?.message;
      throw new Error(`deepfried: WGSL of kernel "${kernel.name}" does not compile:\n${text}`);
    }
    const layout = this.layout(kernel);
    try {
      const pipeline = await d.createComputePipelineAsync({
        label,
        layout: d.createPipelineLayout({ label, bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: kernel.entryPoint, constants: kernel.constants },
      });
      return { kernel, pipeline, layout };
    } catch (e) {
      throw new Error(`deepfried: pipeline of kernel "${kernel.name}" failed: ${(e as Error).message}`);
    }
  }
}
