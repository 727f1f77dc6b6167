// The scheduler: a step (forward, loss, backward, optimizer) is recorded once as a list of
// dispatches over *logical* tensors. Compilation assigns logical tensors to physical buffers by
// liveness (two tensors share a buffer when their lifetimes in the dispatch sequence do not
// overlap), compiles every pipeline, and builds uniforms and bind groups once. Running the step
// then only records the prebuilt dispatches into one encoder and submits it.
import type { KernelInstance } from '../../kernels/common.js';
import { type DType, type Dispatch, type EncodeContext, type GpuRuntime, type Prepared, Tensor } from '../gpu/runtime.js';
import { checkShape, shapeSize } from '../gpu/runtime.js';

interface Logical {
  tensor: Tensor;
  bytes: number;
  first: number;
  last: number;
}

/** Collects the dispatches of a step. Tensors made by `value()` are logical: they get a physical
 * buffer at compile(). Persistent tensors (parameters, inputs) are ordinary runtime tensors. */
export class GraphBuilder {
  readonly dispatches: { label: string; d: Dispatch }[] = [];
  readonly #logical = new Map<Tensor, Logical>();
  #placeholder: GPUBuffer;
  readonly ctx: EncodeContext;

  constructor(readonly rt: GpuRuntime, readonly label: string) {
    this.#placeholder = rt.alloc(16, 'graph placeholder');
    this.ctx = {
      hasSubgroups: rt.hasSubgroups,
      limits: rt.limits,
      scratch: (shape, dtype = 'f32', l = 'scratch') => this.value(shape, dtype, l),
    };
  }

  /** A logical tensor that lives from its first to its last use in the step. */
  value(shape: readonly number[], dtype: DType = 'f32', label = 'value'): Tensor {
    checkShape(shape, `${this.label}: ${label} shape`);
    const t = new Tensor(this.rt, this.#placeholder, [...shape], dtype, false);
    const bytes = shapeSize(shape) * 4;
    const lim = this.rt.limits;
    if (bytes > lim.maxStorageBufferBindingSize || bytes > lim.maxBufferSize) {
      throw new Error(`deepfried: ${this.label}: ${label} [${shape}] needs ${bytes} bytes, over this device's limit (maxStorageBufferBindingSize ${lim.maxStorageBufferBindingSize})`);
    }
    this.#logical.set(t, { tensor: t, bytes, first: Infinity, last: -1 });
    return t;
  }

  /** The same logical tensor under another shape of the same size (no copy). */
  reshape(t: Tensor, shape: readonly number[]): Tensor {
    if (shapeSize(shape) !== t.size) throw new Error(`deepfried: ${this.label}: cannot reshape [${t.shape}] to [${shape}]`);
    const base = this.#alias.get(t) ?? t;
    const v = new Tensor(this.rt, this.#placeholder, [...shape], t.dtype, false);
    this.#alias.set(v, base);
    return v;
  }
  readonly #alias = new Map<Tensor, Tensor>();
  #base(b: GPUBuffer | Tensor): Logical | undefined {
    return b instanceof Tensor ? this.#logical.get(this.#alias.get(b) ?? b) : undefined;
  }

  /** Appends an op's dispatches (from its encodeX function) to the step. */
  emit(label: string, build: (ctx: EncodeContext) => Dispatch[]): void {
    for (const d of build(this.ctx)) {
      const at = this.dispatches.length;
      this.dispatches.push({ label, d });
      for (const b of d.buffers) {
        const l = this.#base(b);
        if (l) { l.first = Math.min(l.first, at); l.last = Math.max(l.last, at); }
      }
    }
  }

  /** Marks logical tensors as read after the step (their buffers are never reused). */
  keep(...ts: Tensor[]): void {
    for (const t of ts) { const l = this.#base(t); if (l) l.last = Infinity; }
  }

  async compile(): Promise<CompiledGraph> {
    const { assignment, buffers } = planBuffers(this.rt, [...this.#logical.values()], this.label);
    for (const [v, base] of this.#alias) { const b = assignment.get(base); if (b) assignment.set(v, b); }
    const resolve = (b: GPUBuffer | Tensor): GPUBuffer => (b instanceof Tensor ? assignment.get(b) ?? b.buffer : b);
    const uniforms: GPUBuffer[] = [];
    const device = this.rt.device;
    device.pushErrorScope('validation');
    let popped = false;
    try {
      const preps = await Promise.all(this.dispatches.map(({ d }) => this.rt.prepare(d.kernel)));
      const steps = this.dispatches.map(({ d }, i) => {
        const prep = preps[i]!;
        const u = this.rt.uniform(d.kernel, d.params);
        uniforms.push(u);
        return { label: this.dispatches[i]!.label, prep, group: this.rt.bindGroup(prep, u, d.buffers.map(resolve)), grid: this.rt.grid(d.workgroups) };
      });
      const err = await device.popErrorScope();
      popped = true;
      if (err) throw new Error(`deepfried: ${this.label}: WebGPU validation error while compiling the graph: ${err.message}`);
      return new CompiledGraph(this.rt, this.label, steps, [...buffers, ...uniforms], assignment);
    } catch (e) {
      if (!popped) await device.popErrorScope().catch(() => null);
      for (const b of [...buffers, ...uniforms]) b.destroy();
      throw e;
    } finally {
      this.rt.release(this.#placeholder);
    }
  }
}

/** Greedy interval allocation: logical tensors sorted by first use take the smallest free buffer
 * that fits, or a new one. A buffer is free again after the last use of its current tenant. */
function planBuffers(rt: GpuRuntime, logical: Logical[], label: string): { assignment: Map<Tensor, GPUBuffer>; buffers: GPUBuffer[] } {
  const used = logical.filter((l) => l.last >= 0).sort((a, b) => a.first - b.first);
  const assignment = new Map<Tensor, GPUBuffer>();
  const buffers: GPUBuffer[] = [];
  const busy: { buf: GPUBuffer; until: number }[] = [];
  const free: GPUBuffer[] = [];
  for (const l of used) {
    for (let i = busy.length - 1; i >= 0; i--) {
      if (busy[i]!.until < l.first) { free.push(busy[i]!.buf); busy.splice(i, 1); }
    }
    let best = -1;
    free.forEach((b, i) => { if (b.size >= l.bytes && (best < 0 || b.size < free[best]!.size)) best = i; });
    let buf: GPUBuffer;
    if (best >= 0) buf = free.splice(best, 1)[0]!;
    else {
      buf = rt.createBuffer({ label: `${label} activation`, size: Math.max(16, Math.ceil(l.bytes / 16) * 16), usage: 0x80 | 0x4 | 0x8 });
      buffers.push(buf);
    }
    assignment.set(l.tensor, buf);
    busy.push({ buf, until: l.last });
  }
  return { assignment, buffers };
}

export interface GraphStep { label: string; prep: Prepared; group: GPUBindGroup; grid: [number, number] }
export interface ProfileRow { label: string; kernel: string; dispatches: number; ms: number }

export class CompiledGraph {
  #destroyed = false;
  constructor(
    readonly rt: GpuRuntime,
    readonly label: string,
    readonly steps: readonly GraphStep[],
    readonly ownedBuffers: readonly GPUBuffer[],
    readonly assignment: ReadonlyMap<Tensor, GPUBuffer>,
  ) {}

  /** Bytes of activation/scratch memory the plan holds (uniforms excluded). */
  get activationBytes(): number {
    return this.ownedBuffers.filter((b) => b.usage & 0x80).reduce((a, b) => a + b.size, 0);
  }

  /** A logical tensor's physical buffer (for reading results such as logits). */
  bufferOf(t: Tensor): GPUBuffer {
    const b = this.assignment.get(t);
    if (!b) throw new Error(`deepfried: ${this.label}: that tensor is not part of this graph`);
    return b;
  }

  /** Records the whole graph into `encoder` in one compute pass. */
  record(encoder: GPUCommandEncoder): void {
    if (this.#destroyed) throw new Error(`deepfried: ${this.label} was destroyed`);
    const pass = encoder.beginComputePass({ label: this.label });
    for (const s of this.steps) {
      pass.setPipeline(s.prep.pipeline);
      pass.setBindGroup(0, s.group);
      pass.dispatchWorkgroups(s.grid[0], s.grid[1]);
    }
    pass.end();
  }

  /** Records and submits the graph as one command buffer. */
  submit(): void {
    this.rt.check();
    const enc = this.rt.device.createCommandEncoder({ label: this.label });
    this.record(enc);
    this.rt.device.queue.submit([enc.finish()]);
  }

  /** Runs the graph once with a timestamp around every dispatch (one pass each) and sums the GPU
   * time per op label and kernel. Needs the 'timestamp-query' feature. */
  async profile(): Promise<ProfileRow[]> {
    const rt = this.rt;
    if (!rt.hasTimestamps) throw new Error("deepfried: profiling needs the 'timestamp-query' feature, which this adapter lacks");
    const n = this.steps.length;
    const qs = rt.device.createQuerySet({ type: 'timestamp', count: 2 * n });
    const resolve = rt.createBuffer({ label: 'profile resolve', size: 16 * n, usage: 0x200 /* QUERY_RESOLVE */ | 0x4 });
    const read = rt.createBuffer({ label: 'profile read', size: 16 * n, usage: 0x1 | 0x8 });
    try {
      const enc = rt.device.createCommandEncoder({ label: `${this.label} profile` });
      this.steps.forEach((s, i) => {
        const pass = enc.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
        pass.setPipeline(s.prep.pipeline);
        pass.setBindGroup(0, s.group);
        pass.dispatchWorkgroups(s.grid[0], s.grid[1]);
        pass.end();
      });
      enc.resolveQuerySet(qs, 0, 2 * n, resolve, 0);
      enc.copyBufferToBuffer(resolve, 0, read, 0, 16 * n);
      rt.device.queue.submit([enc.finish()]);
      await read.mapAsync(1);
      const t = new BigUint64Array(read.getMappedRange().slice(0));
      read.unmap();
      const rows = new Map<string, ProfileRow>();
      this.steps.forEach((s, i) => {
        const key = `${s.label}|${s.prep.kernel.name}`;
        const r = rows.get(key) ?? { label: s.label, kernel: s.prep.kernel.name, dispatches: 0, ms: 0 };
        r.dispatches++;
        r.ms += Number(t[2 * i + 1]! - t[2 * i]!) / 1e6;
        rows.set(key, r);
      });
      return [...rows.values()];
    } finally {
      qs.destroy();
      resolve.destroy();
      read.destroy();
    }
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const b of this.ownedBuffers) b.destroy();
  }
}

export type { KernelInstance };
