// The GPU runtime: device, tensors, pipeline cache, uniform packing, error surfacing.
import type { KernelInstance } from '../../kernels/common.js';
import { acquireAdapter, keepAliveForever } from './acquire.js';

export type DType = 'f32' | 'i32' | 'u32';
export type TypedArray = Float32Array | Int32Array | Uint32Array;

const ARRAYS = { f32: Float32Array, i32: Int32Array, u32: Uint32Array } as const;
const BUFFER_USAGE = 0x80 /* STORAGE */ | 0x4 /* COPY_SRC */ | 0x8; /* COPY_DST */

export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Throws naming the first NaN or infinity in float data (`what` names the data). */
export function checkFinite(data: ArrayLike<number>, what: string): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new Error(`deepfried: ${what} has a non-finite value (${data[i]}) at index ${i}`);
  }
}

/** A short description of a value for an error message (never the whole of a large array). */
export function describe(v: unknown): string {
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of ${(v as unknown as ArrayLike<number>).length ?? v.byteLength} elements`;
  if (Array.isArray(v) && v.length > 8) return `[${v.slice(0, 8).map((x) => JSON.stringify(x)).join(',')},… (${v.length} elements)]`;
  const s = typeof v === 'function' ? 'a function' : JSON.stringify(v) ?? String(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

export function checkShape(shape: readonly number[], what = 'shape'): void {
  if (!Array.isArray(shape) || shape.length === 0) throw new Error(`deepfried: ${what} must be a non-empty array, got ${describe(shape)}`);
  for (const s of shape) {
    if (!Number.isInteger(s) || s <= 0) throw new Error(`deepfried: ${what} ${describe(shape)} has a dimension that is not a positive integer`);
  }
}

export class Tensor {
  #buffer: GPUBuffer | null;
  readonly size: number;
  constructor(
    readonly rt: GpuRuntime,
    buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType,
    /** Caller-owned buffers (rt.wrap) are never destroyed or pooled by us. */
    readonly owned: boolean,
  ) {
    this.#buffer = buffer;
    this.size = shapeSize(shape);
  }
  get disposed(): boolean { return this.#buffer === null; }
  get byteLength(): number { return this.size * 4; }
  /** The underlying buffer; throws if the tensor was disposed. */
  get buffer(): GPUBuffer {
    if (!this.#buffer) throw new Error(`deepfried: tensor [${this.shape}] was used after dispose()`);
    return this.#buffer;
  }
  async read(): Promise<TypedArray> {
    return this.rt.readBuffer(this.buffer, this.byteLength, this.dtype);
  }
  dispose(): void {
    if (!this.#buffer) return;
    if (this.owned) this.rt.release(this.#buffer);
    this.#buffer = null;
  }
}

export interface Prepared {
  kernel: KernelInstance;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** One kernel launch: what an op asks the runtime (or the graph scheduler) to record. */
export interface Dispatch {
  kernel: KernelInstance;
  buffers: readonly (GPUBuffer | Tensor)[];
  params: readonly number[];
  workgroups: number;
}

/** What an op's encoder may use: the device's capabilities and scratch memory that lives as long
 * as the dispatches it returns (freed after a functional call; kept by a compiled graph). */
export interface EncodeContext {
  readonly hasSubgroups: boolean;
  readonly limits: GPUSupportedLimits;
  scratch(shape: readonly number[], dtype?: DType, label?: string): Tensor;
}

export interface RuntimeOptions {
  /** Share a caller's device; the runtime then never destroys it. */
  device?: GPUDevice;
  powerPreference?: GPUPowerPreference;
}

export interface RuntimeStats {
  /** GPU buffers created by this runtime and not yet destroyed (pooled, graph, uniform and staging ones included). */
  liveBuffers: number;
  /** Their bytes: the GPU memory this runtime holds (pooled buffers included). */
  liveBytes: number;
  pooledBuffers: number;
  pooledBytes: number;
  pipelines: number;
}

const WANTED_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
] as const;

export class GpuRuntime {
  readonly device: GPUDevice;
  readonly adapterInfo: { vendor: string; architecture: string; description: string; isFallbackAdapter: boolean };
  #subgroupLanes: number;
  /** Whether kernels may use subgroup operations: the device has the feature and the lane layout
   * they assume held in verifySubgroups(). */
  get hasSubgroups(): boolean { return this.#subgroupLanes > 0; }
  /** Lanes a kernel may count on in every subgroup: the adapter's subgroupMinSize (WebGPU's floor
   * of 4 where its info does not say); 0 where subgroups are not used. */
  get subgroupLanes(): number { return this.#subgroupLanes; }
  readonly hasTimestamps: boolean;
  readonly ownsDevice: boolean;
  #keepAlive: unknown;
  #lost: string | null = null;
  #uncaptured: string | null = null;
  #pipelines = new Map<string, Promise<Prepared>>();
  #pool = new Map<number, GPUBuffer[]>();
  #pooledBytes = 0;
  /** Every buffer createBuffer made and nobody destroyed yet (rt.destroy() frees them). */
  #buffers = new Set<GPUBuffer>();
  #liveBytes = 0;

  protected constructor(device: GPUDevice, info: GPUAdapterInfo | undefined, owns: boolean, keepAlive: unknown) {
    this.device = device;
    this.ownsDevice = owns;
    this.#keepAlive = keepAlive;
    if (keepAlive) keepAliveForever(keepAlive);
    this.adapterInfo = {
      vendor: info?.vendor ?? '', architecture: info?.architecture ?? '', description: info?.description ?? '',
      isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter),
    };
    const minSize = (info as { subgroupMinSize?: number } | undefined)?.subgroupMinSize;
    this.#subgroupLanes = !device.features.has('subgroups') ? 0
      : minSize !== undefined && minSize >= 4 && (minSize & (minSize - 1)) === 0 ? minSize : 4;
    this.hasTimestamps = device.features.has('timestamp-query');
    device.lost.then((l) => { this.#lost = `${l.reason}: ${l.message}`; });
    device.addEventListener('uncapturederror', (e) => {
      this.#uncaptured ??= (e as GPUUncapturedErrorEvent).error.message;
    });
  }

  protected static async acquire(opts: RuntimeOptions = {}): Promise<{ device: GPUDevice; info?: GPUAdapterInfo; owns: boolean; keepAlive?: unknown }> {
    if (opts.device) return { device: opts.device, info: opts.device.adapterInfo, owns: false };
    const { adapter, keepAlive } = await acquireAdapter(opts.powerPreference);
    const requiredLimits: Record<string, number> = {};
    for (const k of WANTED_LIMITS) requiredLimits[k] = adapter.limits[k];
    const requiredFeatures = (['timestamp-query', 'subgroups'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
    const device = await adapter.requestDevice({ label: 'deepfried', requiredLimits, requiredFeatures });
    return { device, info: adapter.info, owns: true, keepAlive };
  }

  get limits(): GPUSupportedLimits { return this.device.limits; }

  /** Throws if the device is lost or the GPU reported an error nobody caught. */
  check(): void {
    if (this.#lost !== null) throw new Error(`deepfried: the GPU device was lost (${this.#lost}); create a new runtime`);
    if (this.#uncaptured !== null) {
      const m = this.#uncaptured;
      this.#uncaptured = null;
      throw new Error(`deepfried: the GPU reported an error: ${m}`);
    }
  }

  /** The subgroup kernels (row butterflies, matmul quads) assume that a subgroup's lanes are
   * consecutive local invocation indices, at least subgroupLanes of them, as on every
   * implementation we know. One small dispatch checks it; where it does not hold, subgroups are
   * turned off (the kernels then take their workgroup-memory paths). createRuntime() runs it;
   * `lanes` (tests) checks for a different lane count. */
  async verifySubgroups(lanes = this.#subgroupLanes): Promise<void> {
    const Q = this.#subgroupLanes ? lanes : 0;
    if (!Q) return;
    const d = this.device, W = Math.min(256, d.limits.maxComputeInvocationsPerWorkgroup);
    const masks = Array.from({ length: Math.log2(Q) }, (_, b) => 1 << b);
    const code = `enable subgroups;
@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(${W}) fn main(@builtin(local_invocation_index) l: u32, @builtin(subgroup_size) s: u32) {
  // every subgroup op runs in uniform control flow (no short-circuit before it)
  var ok = s >= ${Q}u;
  ${masks.map((m) => `let x${m} = subgroupShuffleXor(l, ${m}u);`).join('\n  ')}
  let q = quadBroadcast(l, 0u);
  ${masks.map((m) => `ok = ok & (x${m} == (l ^ ${m}u));`).join('\n  ')}
  ok = ok & (q == (l & ~3u));
  out[l] = select(0u, 1u, ok);
}`;
    d.pushErrorScope('validation');
    const out = d.createBuffer({ label: 'deepfried subgroup check', size: W * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const read = d.createBuffer({ label: 'deepfried subgroup check readback', size: W * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const pipeline = d.createComputePipeline({ label: 'deepfried subgroup check', layout: 'auto', compute: { module: d.createShaderModule({ code }), entryPoint: 'main' } });
      const enc = d.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, d.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }] }));
      pass.dispatchWorkgroups(1);
      pass.end();
      enc.copyBufferToBuffer(out, 0, read, 0, W * 4);
      d.queue.submit([enc.finish()]);
      const err = await d.popErrorScope();
      if (err) { this.#subgroupLanes = 0; return; }
      await read.mapAsync(GPUMapMode.READ);
      const ok = new Uint32Array(read.getMappedRange()).every((v) => v === 1);
      read.unmap();
      if (!ok) this.#subgroupLanes = 0;
    } finally {
      out.destroy();
      read.destroy();
    }
  }

  // ---------------------------------------------------------------- buffers and tensors
  /** Every GPU buffer deepfried makes goes through here, so stats().liveBuffers counts them all. */
  createBuffer(desc: GPUBufferDescriptor): GPUBuffer {
    const b = this.device.createBuffer(desc);
    this.#buffers.add(b);
    this.#liveBytes += b.size;
    const destroy = b.destroy.bind(b);
    b.destroy = () => { if (this.#buffers.delete(b)) this.#liveBytes -= b.size; destroy(); };
    return b;
  }

  /** A storage buffer of at least `bytes`, from the pool when one fits exactly. */
  alloc(bytes: number, label = 'deepfried'): GPUBuffer {
    this.check();
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const lim = this.limits;
    if (size > lim.maxStorageBufferBindingSize || size > lim.maxBufferSize) {
      throw new Error(`deepfried: ${label} needs ${bytes} bytes, over this device's limit ` +
        `(maxStorageBufferBindingSize ${lim.maxStorageBufferBindingSize}, maxBufferSize ${lim.maxBufferSize})`);
    }
    const pooled = this.#pool.get(size)?.pop();
    if (pooled) { this.#pooledBytes -= size; return pooled; }
    return this.createBuffer({ label, size, usage: BUFFER_USAGE });
  }

  /** Returns a buffer made by alloc() to the pool (destroyed once the pool is large). */
  release(buffer: GPUBuffer): void {
    if (this.#lost !== null || this.#pooledBytes + buffer.size > 256 * 2 ** 20) {
      buffer.destroy();
      return;
    }
    const list = this.#pool.get(buffer.size) ?? [];
    list.push(buffer);
    this.#pool.set(buffer.size, list);
    this.#pooledBytes += buffer.size;
  }

  /** Destroys every pooled buffer. */
  trim(): void {
    for (const list of this.#pool.values()) for (const b of list) b.destroy();
    this.#pool.clear();
    this.#pooledBytes = 0;
  }

  stats(): RuntimeStats {
    let pooled = 0;
    for (const l of this.#pool.values()) pooled += l.length;
    return { liveBuffers: this.#buffers.size, liveBytes: this.#liveBytes, pooledBuffers: pooled, pooledBytes: this.#pooledBytes, pipelines: this.#pipelines.size };
  }

  /** Uploads data as a tensor. Float data must be finite. */
  tensor(data: TypedArray, shape: readonly number[]): Tensor {
    if (Array.isArray(data) && ArrayBuffer.isView(shape)) throw new Error('deepfried: rt.tensor(data, shape) takes the data first: the arguments look swapped');
    checkShape(shape, 'tensor shape');
    const dtype: DType = data instanceof Float32Array ? 'f32' : data instanceof Int32Array ? 'i32'
      : data instanceof Uint32Array ? 'u32' : (() => { throw new Error('deepfried: tensor data must be a Float32Array, Int32Array or Uint32Array'); })();
    const n = shapeSize(shape);
    if (data.length !== n) throw new Error(`deepfried: tensor data has ${data.length} elements but shape [${shape}] needs ${n}`);
    if (dtype === 'f32') checkFinite(data, 'tensor data');
    const buffer = this.alloc(n * 4, `tensor[${shape}]`);
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, n * 4);
    return new Tensor(this, buffer, [...shape], dtype, true);
  }

  /** A new tensor whose contents the next kernel overwrites. */
  empty(shape: readonly number[], dtype: DType = 'f32', label = 'tensor'): Tensor {
    checkShape(shape, `${label} shape`);
    return new Tensor(this, this.alloc(shapeSize(shape) * 4, `${label}[${shape}]`), [...shape], dtype, true);
  }

  /** A zero-filled tensor. */
  zeros(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    const t = this.empty(shape, dtype);
    const enc = this.device.createCommandEncoder();
    enc.clearBuffer(t.buffer);
    this.device.queue.submit([enc.finish()]);
    return t;
  }

  /** Wraps a caller-owned buffer (never destroyed by deepfried). */
  wrap(buffer: GPUBuffer, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    checkShape(shape, 'wrapped buffer shape');
    if (buffer.size < shapeSize(shape) * 4) throw new Error(`deepfried: buffer of ${buffer.size} bytes is too small for shape [${shape}]`);
    if (!(buffer.usage & 0x80)) throw new Error('deepfried: a wrapped buffer needs GPUBufferUsage.STORAGE');
    return new Tensor(this, buffer, [...shape], dtype, false);
  }

  async readBuffer(buffer: GPUBuffer, bytes: number, dtype: DType): Promise<TypedArray> {
    this.check();
    const staging = this.createBuffer({ label: 'deepfried staging', size: bytes, usage: 0x1 /* MAP_READ */ | 0x8 });
    try {
      const enc = this.device.createCommandEncoder({ label: 'deepfried read' });
      enc.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
      this.device.queue.submit([enc.finish()]);
      await staging.mapAsync(1 /* GPUMapMode.READ */);
      const out = new ARRAYS[dtype](staging.getMappedRange().slice(0));
      staging.unmap();
      return out;
    } catch (e) {
      this.check();
      throw e;
    } finally {
      staging.destroy();
    }
  }

  // ---------------------------------------------------------------- pipelines and dispatch
  /** The compiled pipeline of a kernel, cached on everything that changes it. */
  prepare(kernel: KernelInstance): Promise<Prepared> {
    this.check();
    const key = JSON.stringify([kernel.entryPoint, kernel.bindings, kernel.params, kernel.constants ?? {}]) + kernel.code;
    let p = this.#pipelines.get(key);
    if (!p) {
      p = this.#compile(kernel);
      this.#pipelines.set(key, p);
      p.catch(() => this.#pipelines.delete(key));
    }
    return p;
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
    const layout = d.createBindGroupLayout({
      label,
      entries: [
        { binding: 0, visibility: 4 /* COMPUTE */, buffer: { type: 'uniform' } },
        ...kernel.bindings.map((b, i) => ({
          binding: i + 1, visibility: 4,
          buffer: { type: (b.access === 'read' ? 'read-only-storage' : 'storage') as GPUBufferBindingType },
        })),
      ],
    });
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

  /** A uniform buffer holding the kernel's Params (each field a 4-byte scalar). */
  uniform(kernel: KernelInstance, values: readonly number[]): GPUBuffer {
    if (values.length !== kernel.params.length) {
      throw new Error(`deepfried: kernel "${kernel.name}" takes ${kernel.params.length} params, got ${values.length}`);
    }
    const size = Math.max(16, Math.ceil(values.length / 4) * 16);
    const buf = this.createBuffer({ label: `deepfried:${kernel.name} params`, size, usage: 0x40 /* UNIFORM */, mappedAtCreation: true });
    const raw = buf.getMappedRange();
    const u = new Uint32Array(raw), i = new Int32Array(raw), f = new Float32Array(raw);
    kernel.params.forEach(([name, type], k) => {
      const v = values[k]!;
      if (type === 'f32') f[k] = v;
      else if (!Number.isInteger(v) || (type === 'u32' ? v < 0 || v > 0xffffffff : v < -(2 ** 31) || v >= 2 ** 31)) {
        throw new Error(`deepfried: kernel "${kernel.name}" param ${name} = ${v} does not fit ${type}`);
      } else if (type === 'u32') u[k] = v;
      else i[k] = v;
    });
    buf.unmap();
    return buf;
  }

  bindGroup(prep: Prepared, uniform: GPUBuffer, buffers: readonly (GPUBuffer | Tensor)[]): GPUBindGroup {
    const k = prep.kernel;
    if (buffers.length !== k.bindings.length) {
      throw new Error(`deepfried: kernel "${k.name}" binds ${k.bindings.length} buffers, got ${buffers.length}`);
    }
    return this.device.createBindGroup({
      label: `deepfried:${k.name}`,
      layout: prep.layout,
      entries: [
        { binding: 0, resource: { buffer: uniform } },
        ...buffers.map((b, i) => ({ binding: i + 1, resource: { buffer: b instanceof Tensor ? b.buffer : b } })),
      ],
    });
  }

  /** Splits a workgroup count over x and y when it passes maxComputeWorkgroupsPerDimension. */
  grid(workgroups: number): [number, number] {
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (workgroups <= max) return [Math.max(1, workgroups), 1];
    const y = Math.ceil(workgroups / max);
    if (y > max) throw new Error(`deepfried: ${workgroups} workgroups exceed this device's dispatch limit (${max}²)`);
    return [Math.ceil(workgroups / y), y];
  }

  /** Records dispatches into one command buffer and submits it; WebGPU errors become thrown Errors. */
  async run(label: string, record: (r: Recorder) => void): Promise<void> {
    this.check();
    const rec = new Recorder(this, label);
    const d = this.device;
    d.pushErrorScope('out-of-memory');
    d.pushErrorScope('validation');
    try {
      record(rec);
      d.queue.submit([rec.finish()]);
    } finally {
      const validation = await d.popErrorScope();
      const oom = await d.popErrorScope();
      for (const u of rec.uniforms) u.destroy();
      if (validation) throw new Error(`deepfried: ${label}: WebGPU validation error: ${validation.message}`);
      if (oom) throw new Error(`deepfried: ${label}: the GPU is out of memory: ${oom.message}`);
    }
    this.check();
  }

  /** Builds an op's dispatches, compiles their pipelines and submits them as one command buffer.
   * Scratch tensors the builder asks for are released once the work is submitted. */
  async execute(label: string, build: (ctx: EncodeContext) => Dispatch[]): Promise<void> {
    const scratch: Tensor[] = [];
    const ctx = this.#encodeContext(label, scratch);
    try {
      const ds = build(ctx);
      const preps = await Promise.all(ds.map((d) => this.prepare(d.kernel)));
      await this.run(label, (r) => ds.forEach((d, i) => r.dispatch(preps[i]!, d.buffers, d.params, d.workgroups)));
    } finally {
      for (const t of scratch) t.dispose();
    }
  }

  #encodeContext(label: string, scratch: Tensor[]): EncodeContext {
    return {
      hasSubgroups: this.hasSubgroups,
      limits: this.limits,
      scratch: (shape, dtype = 'f32', l = `${label} scratch`) => {
        const t = this.empty(shape, dtype, l);
        scratch.push(t);
        return t;
      },
    };
  }

  /**
   * Records an op's dispatches (an `encodeX(ctx, …)` call of src/ops) into the caller's command
   * encoder, as one compute pass, without submitting anything: for frameworks that own the
   * encoder and the queue. Pipelines are compiled first (hence async; a WGSL error throws here,
   * naming the kernel). Call `release()` once the command buffer is submitted (or dropped): it
   * frees the pass's uniforms and the op's scratch. Validation errors of the recorded work surface
   * in the caller's own error scopes, at finish() or submit(). Everything is bound before the pass
   * opens (not through Recorder, which binds as it goes), so a failure records nothing at all.
   */
  async record(encoder: GPUCommandEncoder, label: string, build: (ctx: EncodeContext) => Dispatch[]): Promise<{ dispatches: number; release(): void }> {
    this.check();
    const scratch: Tensor[] = [], uniforms: GPUBuffer[] = [];
    const release = () => {
      for (const u of uniforms.splice(0)) u.destroy();
      for (const t of scratch.splice(0)) t.dispose();
    };
    try {
      const ds = build(this.#encodeContext(label, scratch));
      const preps = await Promise.all(ds.map((d) => this.prepare(d.kernel)));
      const bound = ds.map((d, i) => {
        const u = this.uniform(d.kernel, d.params);
        uniforms.push(u);
        return { prep: preps[i]!, group: this.bindGroup(preps[i]!, u, d.buffers), grid: this.grid(d.workgroups) };
      });
      const pass = encoder.beginComputePass({ label: `deepfried:${label}` });
      for (const b of bound) {
        pass.setPipeline(b.prep.pipeline);
        pass.setBindGroup(0, b.group);
        pass.dispatchWorkgroups(...b.grid);
      }
      pass.end();
      return { dispatches: ds.length, release };
    } catch (e) {
      release();
      throw e;
    }
  }

  /** Allocates outputs, runs `build`, and disposes the outputs again if anything throws. */
  async produce<T extends Record<string, Tensor> | Tensor>(label: string, outputs: () => T, build: (out: T, ctx: EncodeContext) => Dispatch[]): Promise<T> {
    const out = outputs();
    try {
      await this.execute(label, (ctx) => build(out, ctx));
      return out;
    } catch (e) {
      for (const t of out instanceof Tensor ? [out] : Object.values(out)) t.dispose();
      throw e;
    }
  }

  /** Waits until all submitted work has finished. */
  async sync(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  /** Frees every buffer this runtime made (tensors, compiled graphs, pool) and, if it created the
   * device, the device; on a caller's device, the caller's own buffers (rt.wrap) are left alone.
   * Any later call on the runtime or its tensors throws. */
  destroy(): void {
    this.trim();
    for (const b of [...this.#buffers]) b.destroy();
    this.#pipelines.clear();
    if (this.ownsDevice) this.device.destroy();
    this.#lost ??= 'destroyed: rt.destroy() was called';
    this.#keepAlive = null;
  }
}

/** One command encoder being recorded; each dispatch gets its own uniform buffer. All dispatches
 * share one compute pass (WebGPU orders storage writes between dispatches). */
export class Recorder {
  readonly encoder: GPUCommandEncoder;
  readonly uniforms: GPUBuffer[] = [];
  #pass: GPUComputePassEncoder | null = null;
  constructor(readonly rt: GpuRuntime, label: string) {
    this.encoder = rt.device.createCommandEncoder({ label: `deepfried:${label}` });
  }
  dispatch(prep: Prepared, buffers: readonly (GPUBuffer | Tensor)[], params: readonly number[], workgroups: number): void {
    const u = this.rt.uniform(prep.kernel, params);
    this.uniforms.push(u);
    const bg = this.rt.bindGroup(prep, u, buffers);
    this.#pass ??= this.encoder.beginComputePass({ label: 'deepfried' });
    this.#pass.setPipeline(prep.pipeline);
    this.#pass.setBindGroup(0, bg);
    this.#pass.dispatchWorkgroups(...this.rt.grid(workgroups));
  }
  /** Ends the open compute pass (before copies, or before finish()). */
  endPass(): void {
    this.#pass?.end();
    this.#pass = null;
  }
  finish(): GPUCommandBuffer {
    this.endPass();
    return this.encoder.finish();
  }
}
