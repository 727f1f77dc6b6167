// The GPU runtime: device, tensors, buffer pool, the eager queue, error surfacing.
//
// Ops are queued, not submitted: an op checks its arguments, allocates its outputs and appends its
// dispatches to the open batch, all synchronously, and returns its tensors. A batch is submitted
// as one command buffer by read(), sync(), or once it holds MAX_BATCH dispatches. Buffers freed
// while queued work may still use them (disposed tensors, scratch) go back to the pool only after
// that batch is submitted, and a write into an existing tensor while work is queued is queued too,
// so queue.writeBuffer never overtakes recorded work (DESIGN.md §2.5).
import type { KernelInstance } from '../../kernels/common.js';
import { subgroupLayoutKernel } from '../../kernels/probe.wgsl.js';
import { acquireAdapter, keepAliveForever } from './acquire.js';
import { PipelineCache, type Prepared } from './pipelines.js';
import { bindAll, bindingOf, encodeBound, grid, packParams, type Bound, type Params, type PassTimer, type Unbound } from './submit.js';
import { ARRAYS, checkFinite, checkShape, dtypeOf, shapeSize, Tensor, type DType, type TensorRef, type TypedArray } from './tensor.js';
import { resolveTuning, type Tuning, type TuningOptions } from './tuning.js';

export { Tensor, checkFinite, checkShape, describe, shapeSize, type DType, type TensorRef, type TypedArray } from './tensor.js';
export type { Prepared } from './pipelines.js';

const BUFFER_USAGE = 0x80 /* STORAGE */ | 0x4 /* COPY_SRC */ | 0x8; /* COPY_DST */
/** Dispatches a batch collects before it is submitted without being asked: 300 chained ReLUs on
 * [1, 256] then cost 3 submits. */
const MAX_BATCH = 128;
/** Allocations from this size on are checked for out-of-memory in an error scope (createBuffer). */
const CHECKED_ALLOCATION = 2 ** 20;

/** Bytes [offset, offset + size) of a tensor's (or buffer's) memory bound to one binding: how an
 * op works through a tensor larger than one binding may be (maxStorageBufferBindingSize), a piece
 * at a time. `offset` is a multiple of the device's minStorageBufferOffsetAlignment. */
export class Slice {
  constructor(
    /** The tensor, graph value or buffer sliced. */
    readonly of: TensorRef | GPUBuffer,
    /** First byte. */
    readonly offset: number,
    /** Bytes bound. */
    readonly size: number,
  ) {}
}

/** The blocks of rows [first, first + count) of a row-major f32 tensor [rows, rowLength] named
 * `name` that one binding holds each: one block when it all fits; otherwise blocks whose byte
 * offsets are multiples of the device's minStorageBufferOffsetAlignment (so a row-indexed
 * companion such as a bias [rows] slices at the same rows) and start at a multiple of 4 rows
 * (vec4 kernels). Throws naming the limit when not even one aligned block fits. */
export function bindingBlocks(op: string, name: string, limits: GPUSupportedLimits, rows: number, rowLength: number): { first: number; count: number }[] {
  const max = limits.maxStorageBufferBindingSize, align = limits.minStorageBufferOffsetAlignment;
  if (rows * rowLength * 4 <= max) return [{ first: 0, count: rows }];
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  const lcm = (a: number, b: number) => (a / gcd(a, b)) * b;
  const step = lcm(lcm(align / gcd(4 * rowLength, align), align / 4), 4);
  const count = Math.floor(max / (4 * rowLength) / step) * step;
  if (count < 1) {
    throw new Error(`deepfried: ${op}: ${name} [${rows}, ${rowLength}] is ${rows * rowLength * 4} bytes, over this device's limit (maxStorageBufferBindingSize ${max}), and a block of ${step} rows (${step * rowLength * 4} bytes) does not fit one binding either`);
  }
  const blocks: { first: number; count: number }[] = [];
  for (let first = 0; first < rows; first += count) blocks.push({ first, count: Math.min(count, rows - first) });
  return blocks;
}

/** Rows [first, first + count) of a row-major f32 tensor with rows of `rowLength`, as one binding:
 * the tensor itself when that is all of it, else a Slice. */
export function sliceRows(t: TensorRef, first: number, count: number, rowLength: number): TensorRef | Slice {
  return first === 0 && count * rowLength === t.size ? t : new Slice(t, 4 * first * rowLength, 4 * count * rowLength);
}

/** One kernel launch: what an op asks the runtime (or the graph scheduler) to record. */
export interface Dispatch {
  /** The kernel to run. */
  kernel: KernelInstance;
  /** One per storage binding of the kernel, in binding order (bindings 1..n): a GPUBuffer, a tensor
   * of this runtime, a graph value (inside a compiled graph only), or a Slice of one. */
  buffers: readonly (GPUBuffer | TensorRef | Slice)[];
  /** The kernel's Params by name. */
  params: Params;
  /** Workgroups to launch, as one count (spread over a 2-D grid past maxComputeWorkgroupsPerDimension). */
  workgroups: number;
}

/** What an op's encoder may use: the device's capabilities, the runtime's tuning, and scratch
 * memory that lives as long as the dispatches it returns (an eager op's until its batch is
 * submitted; a compiled graph's for the graph's life). */
export interface EncodeContext {
  /** Whether kernels may use subgroup operations (see GpuRuntime.hasSubgroups). */
  readonly hasSubgroups: boolean;
  /** Lanes a kernel may count on in every subgroup; 0 where subgroups are not used. */
  readonly subgroupLanes: number;
  /** The device's limits. */
  readonly limits: GPUSupportedLimits;
  /** The runtime's kernel choices. */
  readonly tuning: Tuning;
  /** Temporary memory for the returned dispatches: an uninitialised tensor (`dtype` default 'f32';
   * `label` names it in errors), freed with them. */
  scratch(shape: readonly number[], dtype?: DType, label?: string): TensorRef;
}

/** Options of createRuntime(). */
export interface RuntimeOptions {
  /** Share a caller's device; the runtime then never destroys it. */
  device?: GPUDevice;
  /** Passed to requestAdapter() (ignored with `device`); default: the platform's choice. */
  powerPreference?: GPUPowerPreference;
  /** Kernel choices for this runtime, over the defaults for its adapter (src/gpu/tuning.ts). */
  tuning?: TuningOptions;
  /** Trainers compiled on this runtime choose their kernels by timing the candidates on first use
   * of a model and batch size, and cache the choice per adapter (src/nn/autotune.ts). */
  autotune?: boolean;
}

/** Memory and queue figures of a runtime: rt.stats(). */
export interface RuntimeStats {
  /** GPU buffers created by this runtime and not yet destroyed (pooled, graph, uniform and staging ones included). */
  liveBuffers: number;
  /** Their bytes: the GPU memory this runtime holds (pooled buffers included). */
  liveBytes: number;
  /** Free buffers kept in the pool for reuse (see trim()). */
  pooledBuffers: number;
  /** Their bytes (the pool keeps at most 256 MiB). */
  pooledBytes: number;
  /** Compiled pipelines (one cache per device, shared by the runtimes on it). */
  pipelines: number;
  /** Dispatches queued and not yet submitted. */
  queued: number;
}

const WANTED_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
] as const;

type Item =
  | { kind: 'dispatch'; label: string; prep: Prepared | Promise<Prepared>; buffers: GPUBufferBinding[]; params: Uint32Array; grid: [number, number] }
  | { kind: 'encode'; label: string; encode(encoder: GPUCommandEncoder): void; wait?: Promise<unknown> };

/** Work queued for one submit, and the buffers to free once it is submitted. */
class Batch {
  items: Item[] = [];
  dispatches = 0;
  /** Back to the pool after the submit. */
  release: GPUBuffer[] = [];
  /** Destroyed after the submit (staging of queued writes). */
  destroy: GPUBuffer[] = [];
  get empty(): boolean { return !this.items.length && !this.release.length && !this.destroy.length; }
}

/**
 * The runtime's device-level machinery: device, buffers and pool, the eager op queue, error
 * surfacing, tidy scopes. The base class of Runtime, which adds the ops (rt.conv2d, …); get one
 * from createRuntime().
 */
export class GpuRuntime {
  /** The WebGPU device everything runs on. */
  readonly device: GPUDevice;
  /** The adapter's GPUAdapterInfo ('' where it does not say). */
  readonly adapterInfo: {
    /** GPU vendor, e.g. 'nvidia'. */
    vendor: string;
    /** GPU family within the vendor's line. */
    architecture: string;
    /** The adapter's name, as the driver gives it (may be empty). */
    description: string;
    /** A software (CPU) fallback adapter. */
    isFallbackAdapter: boolean;
  };
  /** Whether trainers compiled on this runtime autotune their kernels (createRuntime({ autotune: true })). */
  autotune = false;
  /** The kernel choices of this runtime: what createRuntime({ tuning }) asked for over its adapter's defaults. */
  readonly tuning: Tuning;
  #subgroupLanes: number;
  /** Whether kernels may use subgroup operations: the device has the feature and the lane layout
   * they assume held in verifySubgroups(). */
  get hasSubgroups(): boolean { return this.#subgroupLanes > 0; }
  /** Lanes a kernel may count on in every subgroup: the adapter's subgroupMinSize (WebGPU's floor
   * of 4 where its info does not say); 0 where subgroups are not used. */
  get subgroupLanes(): number { return this.#subgroupLanes; }
  /** The device has the 'timestamp-query' feature (needed to time GPU passes). */
  readonly hasTimestamps: boolean;
  /** This runtime created the device and destroys it in destroy(); false for a caller's `{ device }`. */
  readonly ownsDevice: boolean;
  #keepAlive: unknown;
  #lost: string | null = null;
  #uncaptured: string | null = null;
  readonly #pipelines: PipelineCache;
  #pool = new Map<number, GPUBuffer[]>();
  #pooledBytes = 0;
  /** Every buffer createBuffer made and nobody destroyed yet (rt.destroy() frees them). */
  #buffers = new Set<GPUBuffer>();
  #liveBytes = 0;
  #batch = new Batch();
  /** Batches handed to #submit and not yet submitted (waiting for their pipelines). */
  #unsubmitted = 0;
  #tail: Promise<void> = Promise.resolve();
  /** The first error of submitted work, thrown by the next read()/sync(). */
  #error: Error | null = null;
  /** Error scopes of large allocations not yet settled (createBuffer). */
  #allocChecks: Promise<void>[] = [];
  /** Buffers the device could not allocate: never pooled, and work using them is not submitted. */
  readonly #invalid = new WeakSet<GPUBuffer>();
  #scopes: Promise<void>[] = [];
  #tidy: Set<Tensor>[] = [];
  readonly #ctx: EncodeContext;
  readonly #onError = (e: Event) => { this.#uncaptured ??= (e as GPUUncapturedErrorEvent).error.message; };
  /** @internal Times every submitted dispatch (the bench's GPU timer); null: one pass per batch. */
  passTimer: (() => PassTimer) | null = null;

  protected constructor(device: GPUDevice, info: GPUAdapterInfo | undefined, owns: boolean, keepAlive: unknown, tuning?: TuningOptions) {
    this.device = device;
    this.ownsDevice = owns;
    this.#keepAlive = keepAlive;
    if (keepAlive) keepAliveForever(keepAlive);
    this.adapterInfo = {
      vendor: info?.vendor ?? '', architecture: info?.architecture ?? '', description: info?.description ?? '',
      isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter),
    };
    this.tuning = resolveTuning(this.adapterInfo, tuning);
    const minSize = (info as { subgroupMinSize?: number } | undefined)?.subgroupMinSize;
    this.#subgroupLanes = !device.features.has('subgroups') ? 0
      : minSize !== undefined && minSize >= 4 && (minSize & (minSize - 1)) === 0 ? minSize : 4;
    this.hasTimestamps = device.features.has('timestamp-query');
    this.#pipelines = PipelineCache.for(device);
    device.lost.then((l) => { this.#lost = `${l.reason}: ${l.message}`; });
    device.addEventListener('uncapturederror', this.#onError);
    this.#ctx = this.contextWith((shape, dtype = 'f32', label = 'scratch') => {
      checkShape(shape, `${label} shape`);
      const buffer = this.alloc(shapeSize(shape) * 4, `${label}[${shape}]`);
      this.#batch.release.push(buffer);
      return new Tensor(this, buffer, [...shape], dtype, false);
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

  /** The device's limits. */
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

  /** @internal Turns subgroup kernels off (a runtime made without the probe below: Runtime.adopt). */
  protected noSubgroups(): void { this.#subgroupLanes = 0; }

  /** The subgroup kernels (row butterflies, matmul quads) assume that a subgroup's lanes are
   * consecutive local invocation indices, at least subgroupLanes of them, as on every
   * implementation we know. One small dispatch (kernels/probe.wgsl.ts) checks it; where it does
   * not hold, subgroups are turned off (the kernels then take their workgroup-memory paths).
   * createRuntime() runs it; `lanes` (tests) checks for a different lane count. */
  async verifySubgroups(lanes = this.#subgroupLanes): Promise<void> {
    if (!this.#subgroupLanes || !lanes) return;
    const W = Math.min(256, this.limits.maxComputeInvocationsPerWorkgroup);
    const kernel = subgroupLayoutKernel(W, lanes);
    try {
      await this.prepare(kernel);
    } catch {
      this.#subgroupLanes = 0;
      return;
    }
    const out = this.empty([W], 'u32', 'subgroup probe');
    try {
      this.enqueue('subgroup probe', [{ kernel, buffers: [out], params: {}, workgroups: 1 }]);
      if (!(await out.read()).every((v) => v === 1)) this.#subgroupLanes = 0;
    } catch {
      this.#subgroupLanes = 0;
    } finally {
      out.dispose();
    }
  }

  // ---------------------------------------------------------------- buffers and tensors
  /** @internal Every GPU buffer deepfried makes goes through here, so stats().liveBuffers counts them all. */
  createBuffer(desc: GPUBufferDescriptor): GPUBuffer {
    // An allocation the device cannot back (limits allow it, memory does not: SwiftShader at 1 GiB)
    // yields an invalid buffer and an out-of-memory error later. Large ones are checked in an error
    // scope: the batch that would use such a buffer is not submitted, and its error names the buffer.
    const checked = desc.size >= CHECKED_ALLOCATION;
    if (checked) this.device.pushErrorScope('out-of-memory');
    const b = this.device.createBuffer(desc);
    if (checked) {
      this.#allocChecks.push(this.device.popErrorScope().then((e) => {
        if (!e) return;
        this.#invalid.add(b);
        this.#error ??= new Error(`deepfried: ${desc.label ?? 'a buffer'}: the GPU is out of memory: it could not allocate ${desc.size} bytes (${e.message})`);
      }, () => {}));
    }
    this.#buffers.add(b);
    this.#liveBytes += b.size;
    const destroy = b.destroy.bind(b);
    b.destroy = () => { if (this.#buffers.delete(b)) this.#liveBytes -= b.size; destroy(); };
    return b;
  }

  /** @internal A storage buffer of at least `bytes`, from the pool when one fits exactly. */
  alloc(bytes: number, label = 'deepfried'): GPUBuffer {
    this.check();
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const lim = this.limits;
    // A tensor may be larger than one binding (ops that take such tensors bind Slices of them;
    // any other binds it whole and throws naming the limit): only maxBufferSize bounds it.
    if (size > lim.maxBufferSize) {
      throw new Error(`deepfried: ${label} needs ${bytes} bytes, over this device's limit (maxBufferSize ${lim.maxBufferSize})`);
    }
    const pooled = this.#pool.get(size)?.pop();
    if (pooled) { this.#pooledBytes -= size; return pooled; }
    return this.createBuffer({ label, size, usage: BUFFER_USAGE });
  }

  /** @internal Destroys buffers once no queued work can use them (at once if nothing is queued). */
  destroyAfterQueued(buffers: readonly GPUBuffer[]): void {
    if (this.#batch.items.length || this.#unsubmitted) this.#batch.destroy.push(...buffers);
    else for (const b of buffers) b.destroy();
  }

  /** @internal Returns a buffer made by alloc(): to the pool once no queued work can use it. */
  release(buffer: GPUBuffer): void {
    if (this.#batch.items.length || this.#unsubmitted) this.#batch.release.push(buffer);
    else this.#pool1(buffer);
  }

  #pool1(buffer: GPUBuffer): void {
    if (this.#lost !== null || this.#invalid.has(buffer) || this.#pooledBytes + buffer.size > 256 * 2 ** 20) {
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

  /** Buffers, bytes, pipelines and queued dispatches now. */
  stats(): RuntimeStats {
    let pooled = 0;
    for (const l of this.#pool.values()) pooled += l.length;
    return {
      liveBuffers: this.#buffers.size, liveBytes: this.#liveBytes, pooledBuffers: pooled, pooledBytes: this.#pooledBytes,
      pipelines: this.#pipelines.size, queued: this.#batch.dispatches,
    };
  }

  #make(buffer: GPUBuffer, shape: readonly number[], dtype: DType, owned: boolean): Tensor {
    const t = new Tensor(this, buffer, [...shape], dtype, owned);
    this.#tidy.at(-1)?.add(t);
    return t;
  }

  /** Uploads data as a tensor. Float data must be finite. */
  tensor(data: TypedArray, shape: readonly number[]): Tensor {
    if (Array.isArray(data) && ArrayBuffer.isView(shape)) throw new Error('deepfried: rt.tensor(data, shape) takes the data first: the arguments look swapped');
    checkShape(shape, 'tensor shape');
    const dtype = dtypeOf(data);
    const n = shapeSize(shape);
    if (data.length !== n) throw new Error(`deepfried: tensor data has ${data.length} elements but shape [${shape}] needs ${n}`);
    if (dtype === 'f32') checkFinite(data, 'tensor data');
    // a buffer from alloc() is fresh or pooled, so no queued work uses it: write it now
    const buffer = this.alloc(n * 4, `tensor[${shape}]`);
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, n * 4);
    const t = this.#make(buffer, shape, dtype, true);
    if (dtype !== 'f32') t.host = (data as Int32Array | Uint32Array).slice();
    return t;
  }

  /** A new tensor whose contents the next kernel overwrites. */
  empty(shape: readonly number[], dtype: DType = 'f32', label = 'tensor'): Tensor {
    checkShape(shape, `${label} shape`);
    return this.#make(this.alloc(shapeSize(shape) * 4, `${label}[${shape}]`), shape, dtype, true);
  }

  /** A zero-filled tensor (the clear is queued). */
  zeros(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    const t = this.empty(shape, dtype, 'zeros');
    const b = t.buffer;
    this.#batch.items.push({ kind: 'encode', label: 'zeros', encode: (enc) => enc.clearBuffer(b) });
    return t;
  }

  /** Overwrites a tensor's data, in queue order: after the work queued before it, before the work
   * queued after it. Float data must be finite (`what` names the data in the error). */
  write(t: Tensor, data: TypedArray, what = 'write data'): void {
    const buffer = t.buffer;
    if (dtypeOf(data) !== t.dtype) throw new Error(`deepfried: write: tensor [${t.shape}] is ${t.dtype}, data is ${dtypeOf(data)}`);
    if (data.length !== t.size) throw new Error(`deepfried: write: tensor [${t.shape}] has ${t.size} elements, data has ${data.length}`);
    if (t.dtype === 'f32') checkFinite(data, what);
    this.check();
    if (!this.#batch.items.length && !this.#unsubmitted) {
      this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    } else {
      const staging = this.createBuffer({ label: 'deepfried write', size: Math.ceil(data.byteLength / 4) * 4, usage: 0x4 /* COPY_SRC */, mappedAtCreation: true });
      new Uint8Array(staging.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      staging.unmap();
      this.#batch.items.push({ kind: 'encode', label: 'write', encode: (enc) => enc.copyBufferToBuffer(staging, 0, buffer, 0, data.byteLength) });
      this.#batch.destroy.push(staging);
    }
    t.host = t.dtype === 'f32' ? undefined : (data as Int32Array | Uint32Array).slice();
  }

  /** Wraps a caller-owned buffer (never destroyed by deepfried). */
  wrap(buffer: GPUBuffer, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    checkShape(shape, 'wrapped buffer shape');
    if (buffer.size < shapeSize(shape) * 4) throw new Error(`deepfried: buffer of ${buffer.size} bytes is too small for shape [${shape}]`);
    if (!(buffer.usage & 0x80)) throw new Error('deepfried: a wrapped buffer needs GPUBufferUsage.STORAGE');
    return this.#make(buffer, shape, dtype, false);
  }

  /** @internal tensor.read(): submits the queue with a copy of the tensor at its end, and maps it. */
  async read(t: Tensor): Promise<TypedArray> {
    const buffer = t.buffer, bytes = t.byteLength, dtype = t.dtype;
    const raw = await this.readback(bytes, `read [${t.shape}]`, (enc, staging) => enc.copyBufferToBuffer(buffer, 0, staging, 0, bytes));
    return new ARRAYS[dtype](raw);
  }

  /** @internal Queues `encode` (which copies into the staging buffer it is given), submits the
   * queue, and returns the staging buffer's bytes. Errors of any queued work reject here. */
  async readback(bytes: number, label: string, encode: (enc: GPUCommandEncoder, staging: GPUBuffer) => void): Promise<ArrayBuffer> {
    this.check();
    const staging = this.createBuffer({ label: `deepfried staging (${label})`, size: Math.ceil(bytes / 4) * 4, usage: 0x1 /* MAP_READ */ | 0x8 });
    try {
      this.#batch.items.push({ kind: 'encode', label, encode: (enc) => encode(enc, staging) });
      await this.flush();
      const mapped = staging.mapAsync(1 /* GPUMapMode.READ */);
      mapped.catch(() => {});
      await this.#settle();
      await mapped;
      const out = staging.getMappedRange().slice(0, bytes);
      staging.unmap();
      return out;
    } catch (e) {
      this.check();
      throw e;
    } finally {
      staging.destroy();
    }
  }

  /** @internal The context an op's encoder receives, with another owner's scratch memory (a
   * compiled graph's, a recording's) and, for a trainer compiled with its own, other kernel choices. */
  contextWith(scratch: EncodeContext['scratch'], tuning: Tuning = this.tuning): EncodeContext {
    const rt = this;
    return {
      get hasSubgroups() { return rt.hasSubgroups; },
      get subgroupLanes() { return rt.subgroupLanes; },
      limits: this.limits, tuning, scratch,
    };
  }

  // ---------------------------------------------------------------- the queue
  /** The compiled pipeline of a kernel, cached on its key (compiled on first use). */
  async prepare(kernel: KernelInstance): Promise<Prepared> {
    this.check();
    return this.#pipelines.get(kernel);
  }

  /** Pipeline compiles so far (cache misses). */
  get compiles(): number { return this.#pipelines.misses; }

  #buffersOf(label: string, d: Dispatch): GPUBufferBinding[] {
    return d.buffers.map((b0, j) => {
      const b = b0 instanceof Slice ? b0.of : b0;
      let buffer: GPUBuffer;
      if (b instanceof Tensor) {
        if (b.rt !== this) throw new Error(`deepfried: ${label}: a tensor [${b.shape}] of another runtime was passed as "${d.kernel.bindings[j]?.name}" (kernel ${d.kernel.name}; tensors cannot cross runtimes)`);
        buffer = b.buffer;
      } else if ('shape' in b) {
        throw new Error(`deepfried: ${label}: a graph value [${(b as TensorRef).shape}] was passed to an eager op (graph values have buffers only inside their compiled graph)`);
      } else buffer = b;
      return bindingOf(this.limits, label, d.kernel, j, buffer, b0 instanceof Slice ? b0 : undefined);
    });
  }

  /** @internal Appends dispatches to the open batch. Everything that can fail on the host fails
   * here (params, buffer bindings, grid limits), so a bad call throws at the call. */
  enqueue(label: string, ds: readonly Dispatch[]): void {
    this.check();
    const items = ds.map((d): Item => ({
      kind: 'dispatch', label, prep: this.#pipelines.get(d.kernel), buffers: this.#buffersOf(label, d),
      params: packParams(d.kernel, d.params), grid: grid(this.limits, d.workgroups, `${label} (${d.kernel.name})`),
    }));
    for (const it of items) if (it.kind === 'dispatch' && it.prep instanceof Promise) it.prep.catch(() => {}); // surfaces at submit
    this.#batch.items.push(...items);
    this.#batch.dispatches += items.length;
    if (this.#batch.dispatches >= MAX_BATCH) void this.flush();
  }

  /** @internal Queues commands recorded by `encode` (a compiled graph, a copy) in order with the
   * ops; the batch waits for `wait` (a graph's pipelines) before it is encoded. */
  enqueueEncoder(label: string, encode: (encoder: GPUCommandEncoder) => void, wait?: Promise<unknown>): void {
    this.check();
    this.#batch.items.push({ kind: 'encode', label, encode, wait });
  }

  /** @internal Binds dispatches for a caller that keeps them (a compiled graph): one uniform
   * buffer and a bind group each, made now; `checked` rejects if WebGPU found them invalid. */
  bind(label: string, items: readonly Unbound[]): { bound: Bound[]; uniform: GPUBuffer | null; checked: Promise<void> } {
    const d = this.device;
    d.pushErrorScope('validation');
    let b: ReturnType<typeof bindAll>;
    try {
      b = bindAll(d, (desc) => this.createBuffer(desc), label, items);
    } catch (e) {
      d.popErrorScope().catch(() => null);
      throw e;
    }
    const checked = d.popErrorScope().then((err) => {
      if (err) throw new Error(`deepfried: ${label}: WebGPU validation error while binding: ${err.message}`);
    });
    checked.catch(() => {}); // thrown where it is awaited
    return { ...b, checked };
  }

  /** @internal Queues `record` with a timestamp pair per pass (`passes` of them), submits, and
   * returns each pass's GPU nanoseconds. Needs the 'timestamp-query' feature. */
  async timePasses(label: string, passes: number, record: (encoder: GPUCommandEncoder, timer: PassTimer) => void): Promise<number[]> {
    if (!this.hasTimestamps) throw new Error("deepfried: timing needs the 'timestamp-query' feature, which this adapter lacks");
    const qs = this.device.createQuerySet({ label: `${label} timestamps`, type: 'timestamp', count: 2 * passes });
    const resolve = this.createBuffer({ label: `${label} timestamps`, size: 16 * passes, usage: 0x200 /* QUERY_RESOLVE */ | 0x4 });
    try {
      let pass = 0;
      const timer: PassTimer = {
        next: () => (pass < passes ? { querySet: qs, beginningOfPassWriteIndex: 2 * pass, endOfPassWriteIndex: 2 * pass++ + 1 } : undefined),
        resolve: (enc) => enc.resolveQuerySet(qs, 0, 2 * passes, resolve, 0),
      };
      const raw = await this.readback(16 * passes, label, (enc, staging) => {
        record(enc, timer);
        timer.resolve(enc);
        enc.copyBufferToBuffer(resolve, 0, staging, 0, 16 * passes);
      });
      const t = new BigUint64Array(raw);
      return Array.from({ length: passes }, (_, i) => Number(t[2 * i + 1]! - t[2 * i]!));
    } finally {
      qs.destroy();
      resolve.destroy();
    }
  }

  /** @internal The bind group layout of a kernel, without compiling it. */
  layoutOf(kernel: KernelInstance): GPUBindGroupLayout {
    return this.#pipelines.layout(kernel);
  }

  /** @internal An eager op: allocates its outputs, queues the dispatches `build` returns, and
   * returns the outputs at once. If anything throws, the outputs are freed and nothing is queued. */
  op<T extends Record<string, Tensor> | Tensor>(label: string, outputs: () => T, build: (out: T, ctx: EncodeContext) => Dispatch[]): T {
    this.check();
    const out = outputs();
    try {
      this.enqueue(label, build(out, this.#ctx));
      return out;
    } catch (e) {
      for (const t of out instanceof Tensor ? [out] : Object.values(out)) t.dispose();
      throw e;
    }
  }

  /** Submits the queued work (without waiting for it). Errors surface at the next read() or sync(). */
  flush(): Promise<void> {
    const b = this.#batch;
    if (b.empty) return this.#tail;
    this.#batch = new Batch();
    this.#unsubmitted++;
    this.#tail = this.#tail.then(() => this.#submit(b)).finally(() => { this.#unsubmitted--; });
    return this.#tail;
  }

  async #submit(b: Batch): Promise<void> {
    const d = this.device;
    let uniform: GPUBuffer | null = null;
    try {
      if (this.#error || this.#lost !== null) return; // an earlier batch failed: its outputs are garbage, and so would these be
      const items = b.items;
      const waits = items.filter((it) => (it.kind === 'dispatch' && it.prep instanceof Promise) || (it.kind === 'encode' && it.wait));
      if (waits.length) {
        await Promise.all(waits.map(async (it) => { if (it.kind === 'dispatch') it.prep = await it.prep; else await it.wait; }));
      }
      if (this.#allocChecks.length) await Promise.all(this.#allocChecks.splice(0));
      if (this.#error) return; // a buffer this batch may use could not be allocated
      d.pushErrorScope('out-of-memory');
      d.pushErrorScope('validation');
      const labels = new Set<string>();
      try {
        const dispatches = items.filter((it): it is Extract<Item, { kind: 'dispatch' }> => it.kind === 'dispatch');
        const bound = bindAll(d, (desc) => this.createBuffer(desc), 'queue', dispatches.map((it): Unbound => {
          const prep = it.prep as Prepared;
          return { label: it.label, kernel: prep.kernel, layout: prep.layout, buffers: it.buffers, params: it.params, grid: it.grid };
        }));
        bound.bound.forEach((b, i) => { b.pipeline = (dispatches[i]!.prep as Prepared).pipeline; });
        uniform = bound.uniform;
        const enc = d.createCommandEncoder({ label: 'deepfried queue' });
        const timer = this.passTimer?.();
        let run: typeof bound.bound = [], k = 0;
        const endRun = () => { encodeBound(enc, run.map((r) => r.label).join(','), run, timer); run = []; };
        for (const it of items) {
          labels.add(it.label);
          if (it.kind === 'dispatch') run.push(bound.bound[k++]!);
          else { endRun(); it.encode(enc); }
        }
        endRun();
        timer?.resolve(enc);
        d.queue.submit([enc.finish()]);
      } finally {
        const v = d.popErrorScope(), o = d.popErrorScope();
        this.#scopes.push(Promise.all([v, o]).then(([ve, oe]) => {
          const err = ve ?? oe;
          if (!err) return;
          const names = [...labels];
          const culprit = names.find((l) => err.message.includes(`deepfried:${l}`));
          this.#error ??= new Error(`deepfried: ${culprit ?? names.join(', ')}: ${ve ? 'WebGPU validation error' : 'the GPU is out of memory'}: ${err.message}`);
        }, () => {}));
      }
    } catch (e) {
      this.#error ??= e instanceof Error ? e : new Error(String(e));
    } finally {
      uniform?.destroy();
      for (const buf of b.release) this.#pool1(buf);
      for (const buf of b.destroy) buf.destroy();
    }
  }

  /** Waits for submitted batches and their error scopes; throws the first error of queued work. */
  async #settle(): Promise<void> {
    await this.#tail;
    while (this.#scopes.length || this.#allocChecks.length) await Promise.all([...this.#scopes.splice(0), ...this.#allocChecks.splice(0)]);
    const e = this.#error;
    this.#error = null;
    // An uncaptured error names the cause (a buffer the device could not allocate, say); the batch
    // error it caused (work on that invalid buffer) goes with it, so the next call runs normally.
    this.check();
    if (e) throw e;
  }

  /** Submits the queued work and waits until the GPU has finished it; a GPU error of any queued op rejects here, naming the op. */
  async sync(): Promise<void> {
    await this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.#settle();
  }

  /**
   * Records an op's dispatches (an `encodeX(ctx, …)` call of src/ops) into the caller's command
   * encoder, as one compute pass, without submitting anything: for frameworks that own the
   * encoder and the queue. Pipelines are compiled first (hence async; a WGSL error throws here,
   * naming the kernel). Call `release()` once the command buffer is submitted (or dropped): it
   * frees the pass's uniforms and the op's scratch. Validation errors of the recorded work surface
   * in the caller's own error scopes, at finish() or submit(). Everything is bound before the pass
   * opens, so a failure records nothing at all.
   */
  async record(encoder: GPUCommandEncoder, label: string, build: (ctx: EncodeContext) => Dispatch[]): Promise<{
    /** Dispatches recorded. */
    dispatches: number;
    /** Frees the pass's uniforms and the op's scratch; call once the command buffer is submitted or dropped. */
    release(): void;
  }> {
    this.check();
    const scratch: GPUBuffer[] = [];
    let uniform: GPUBuffer | null = null;
    const release = () => {
      uniform?.destroy();
      uniform = null;
      for (const b of scratch.splice(0)) this.release(b);
    };
    try {
      const ds = build(this.#ownScratch(label, scratch));
      const preps = await Promise.all(ds.map((d) => this.prepare(d.kernel)));
      const b = this.#bindPrepared(label, ds, preps);
      uniform = b.uniform;
      encodeBound(encoder, label, b.bound);
      return { dispatches: ds.length, release };
    } catch (e) {
      release();
      throw e;
    }
  }

  /** The context of an op recorded outside the queue (record, submitNow): its scratch buffers
   * are collected in `scratch`, for the caller to free once the work is submitted. */
  #ownScratch(label: string, scratch: GPUBuffer[]): EncodeContext {
    return this.contextWith((shape, dtype = 'f32', l = `${label} scratch`) => {
      checkShape(shape, `${l} shape`);
      const buffer = this.alloc(shapeSize(shape) * 4, `${l}[${shape}]`);
      scratch.push(buffer);
      return new Tensor(this, buffer, [...shape], dtype, false);
    });
  }

  /** Binds an op's dispatches with their compiled pipelines: one uniform buffer, a bind group each. */
  #bindPrepared(label: string, ds: readonly Dispatch[], preps: readonly Prepared[]): { bound: Bound[]; uniform: GPUBuffer | null } {
    const b = bindAll(this.device, (desc) => this.createBuffer(desc), label, ds.map((d, i) => ({
      label, kernel: d.kernel, layout: preps[i]!.layout, buffers: this.#buffersOf(label, d), params: packParams(d.kernel, d.params),
      grid: grid(this.limits, d.workgroups, `${label} (${d.kernel.name})`),
    })));
    b.bound.forEach((x, i) => { x.pipeline = preps[i]!.pipeline; });
    return b;
  }

  /**
   * @internal Runs an op's dispatches at once: one command buffer, submitted before this returns,
   * pipelines compiled synchronously on first use. For a framework whose own queue must see the
   * work in order and whose kernels are synchronous (deepfried/tfjs submits its own pending
   * commands first). The queue of eager ops must be empty. A GPU error of the work throws at the
   * next submitNow() (or rejects the next sync()), naming the op.
   */
  submitNow(label: string, build: (ctx: EncodeContext) => Dispatch[]): void {
    this.check();
    if (this.#error) {
      const e = this.#error;
      this.#error = null;
      throw e;
    }
    if (!this.#batch.empty || this.#unsubmitted) throw new Error(`deepfried: ${label}: submitNow() with eager ops queued (call rt.sync() first)`);
    const scratch: GPUBuffer[] = [];
    let uniform: GPUBuffer | null = null;
    const d = this.device;
    const keys: string[] = [];
    d.pushErrorScope('out-of-memory');
    d.pushErrorScope('validation');
    try {
      const ds = build(this.#ownScratch(label, scratch));
      const preps = ds.map((x) => { keys.push(x.kernel.key); return this.#pipelines.getSync(x.kernel); });
      const b = this.#bindPrepared(label, ds, preps);
      uniform = b.uniform;
      const enc = d.createCommandEncoder({ label: `deepfried ${label}` });
      encodeBound(enc, label, b.bound);
      d.queue.submit([enc.finish()]);
    } finally {
      const v = d.popErrorScope(), o = d.popErrorScope();
      this.#scopes.push(Promise.all([v, o]).then(([ve, oe]) => {
        const err = ve ?? oe;
        if (!err) return;
        for (const k of keys) this.#pipelines.forget(k);
        this.#error ??= new Error(`deepfried: ${label}: ${ve ? 'WebGPU validation error' : 'the GPU is out of memory'}: ${err.message}`);
      }, () => {}));
      uniform?.destroy();
      for (const buf of scratch) this.#pool1(buf);
    }
  }

  // ---------------------------------------------------------------- lifetimes
  /** Runs `fn` and disposes every tensor created inside it except those it returns (a tensor, or
   * tensors inside the arrays and plain objects it returns). `fn` must be synchronous. */
  tidy<T>(fn: () => T): T {
    const scope = new Set<Tensor>();
    this.#tidy.push(scope);
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.#tidy.pop();
      for (const t of scope) t.dispose();
      throw e;
    }
    this.#tidy.pop();
    if (result instanceof Promise) {
      for (const t of scope) t.dispose();
      throw new Error('deepfried: tidy(fn) takes a synchronous function (ops return tensors at once); it returned a Promise');
    }
    const kept = new Set<Tensor>();
    collect(result, kept);
    const parent = this.#tidy.at(-1);
    for (const t of scope) {
      if (kept.has(t)) parent?.add(t);
      else t.dispose();
    }
    return result;
  }

  /** Keeps a tensor made inside rt.tidy() from being disposed when the tidy ends. */
  keep<T extends Tensor>(t: T): T {
    for (const s of this.#tidy) s.delete(t);
    return t;
  }

  /** Frees every buffer this runtime made (tensors, compiled graphs, pool) and, if it created the
   * device, the device; on a caller's device, the caller's own buffers (rt.wrap) are left alone.
   * Queued work is dropped. Any later call on the runtime or its tensors throws. */
  destroy(): void {
    this.#batch = new Batch();
    this.trim();
    for (const b of [...this.#buffers]) b.destroy();
    if (this.ownsDevice) this.#pipelines.clear(); // on a shared device, other runtimes keep using them
    this.device.removeEventListener('uncapturederror', this.#onError);
    if (this.ownsDevice) this.device.destroy();
    this.#lost ??= 'destroyed: rt.destroy() was called';
    this.#keepAlive = null;
  }
}

function collect(v: unknown, into: Set<Tensor>): void {
  if (v instanceof Tensor) into.add(v);
  else if (Array.isArray(v)) for (const x of v) collect(x, into);
  else if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collect(x, into);
}
