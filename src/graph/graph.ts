// The scheduler: a step (forward, loss, backward, optimizer) is recorded once as a list of
// dispatches over graph values. Compilation assigns values to physical buffers by liveness (two
// values share a buffer when their lifetimes in the dispatch sequence do not overlap), compiles
// every pipeline, and binds every dispatch once. Running the step then only records the prebuilt
// dispatches into the runtime's queue (src/gpu/submit.ts encodeBound) and submits them.
import { type DType, type Dispatch, type EncodeContext, type GpuRuntime, Slice, Tensor, type TensorRef } from '../gpu/runtime.js';
import { checkShape, shapeSize } from '../gpu/runtime.js';
import { bindingOf, encodeBound, grid, packParams, type Bound, type PassTimer } from '../gpu/submit.js';
import type { Tuning } from '../gpu/tuning.js';

/** A value of a graph being built: a shape and a lifetime in the step, and a buffer only inside
 * the compiled graph (CompiledGraph.bufferOf). It is not a Tensor: it cannot be read or disposed. */
export class GraphValue implements TensorRef {
  /** Number of elements: the product of the shape. */
  readonly size: number;
  /** Always false: a graph value is never disposed (its graph's buffers are). */
  readonly disposed = false;
  /** @internal Made by GraphBuilder.value() and reshape(). */
  constructor(
    /** The label of the graph it belongs to. */
    readonly graph: string,
    /** Dimensions, outermost first. */
    readonly shape: readonly number[],
    /** Element type. */
    readonly dtype: DType,
    /** Name used in error messages and read labels. */
    readonly label: string,
  ) {
    this.size = shapeSize(shape);
  }
}

interface Lifetime {
  value: GraphValue;
  bytes: number;
  first: number;
  last: number;
}

/** Collects the dispatches of a step. Values made by `value()` get a physical buffer at compile();
 * persistent tensors (parameters, inputs) are ordinary runtime tensors. */
export class GraphBuilder {
  /** The step's dispatches so far, in order. */
  readonly dispatches: {
    /** The op label given to emit(). */
    label: string;
    /** The dispatch. */
    d: Dispatch;
  }[] = [];
  readonly #lifetimes = new Map<GraphValue, Lifetime>();
  readonly #alias = new Map<GraphValue, GraphValue>();
  /** The context emit() passes to encoders: its scratch() makes graph values. */
  readonly ctx: EncodeContext;

  constructor(
    /** The runtime whose device runs the graph. */
    readonly rt: GpuRuntime,
    /** The graph's name, in labels and error messages. */
    readonly label: string,
    /** Kernel choices for this graph's ops (default: the runtime's). */
    tuning?: Tuning,
  ) {
    this.ctx = rt.contextWith((shape, dtype = 'f32', l = 'scratch') => this.value(shape, dtype, l), tuning);
  }

  /** A value that lives from its first to its last use in the step. */
  value(shape: readonly number[], dtype: DType = 'f32', label = 'value'): GraphValue {
    checkShape(shape, `${this.label}: ${label} shape`);
    const v = new GraphValue(this.label, [...shape], dtype, label);
    const bytes = v.size * 4;
    const lim = this.rt.limits;
    // larger than one binding is allowed (ops that bind Slices of it; compile() checks every binding)
    if (bytes > lim.maxBufferSize) {
      throw new Error(`deepfried: ${this.label}: ${label} [${shape}] needs ${bytes} bytes, over this device's limit (maxBufferSize ${lim.maxBufferSize})`);
    }
    this.#lifetimes.set(v, { value: v, bytes, first: Infinity, last: -1 });
    return v;
  }

  /** The same value (or input tensor) under another shape of the same size (no copy). */
  reshape(v: TensorRef, shape: readonly number[]): TensorRef {
    if (shapeSize(shape) !== v.size) throw new Error(`deepfried: ${this.label}: cannot reshape [${v.shape}] to [${shape}]`);
    if (v instanceof Tensor) return this.rt.wrap(v.buffer, shape, v.dtype);
    if (!(v instanceof GraphValue)) throw new Error(`deepfried: ${this.label}: reshape takes a tensor or a value of this graph`);
    const r = new GraphValue(this.label, [...shape], v.dtype, v.label);
    this.#alias.set(r, this.#alias.get(v) ?? v);
    return r;
  }

  #lifetime(b: GPUBuffer | TensorRef): Lifetime | undefined {
    return b instanceof GraphValue ? this.#lifetimes.get(this.#alias.get(b) ?? b) : undefined;
  }

  /** Appends an op's dispatches (from its encodeX function) to the step. */
  emit(label: string, build: (ctx: EncodeContext) => Dispatch[]): void {
    for (const d of build(this.ctx)) {
      const at = this.dispatches.length;
      this.dispatches.push({ label, d });
      for (const b0 of d.buffers) {
        const b = b0 instanceof Slice ? b0.of : b0;
        if (b instanceof GraphValue && b.graph !== this.label) throw new Error(`deepfried: ${this.label}: ${label} uses a value of another graph (${b.graph})`);
        const l = this.#lifetime(b);
        if (l) { l.first = Math.min(l.first, at); l.last = Math.max(l.last, at); }
      }
    }
  }

  /** Marks values as read after the step (their buffers are never reused). */
  keep(...vs: TensorRef[]): void {
    for (const v of vs) { const l = this.#lifetime(v); if (l) l.last = Infinity; }
  }

  /** Plans the buffers and binds every dispatch, at once; the pipelines compile in the background
   * (CompiledGraph.ready), and a graph queued before they are ready waits for them. */
  compile(): CompiledGraph {
    const rt = this.rt;
    const { assignment, buffers } = planBuffers(rt, [...this.#lifetimes.values()], this.label);
    for (const [v, base] of this.#alias) { const b = assignment.get(base); if (b) assignment.set(v, b); }
    const resolve = (b: GPUBuffer | TensorRef): GPUBuffer => {
      if (b instanceof GraphValue) {
        const buf = assignment.get(b);
        if (!buf) throw new Error(`deepfried: ${this.label}: value ${b.label} [${b.shape}] was never used`);
        return buf;
      }
      if (b instanceof Tensor) {
        if (b.rt !== rt) throw new Error(`deepfried: ${this.label}: a tensor of another runtime was used`);
        return b.buffer;
      }
      return b as GPUBuffer;
    };
    const binding = (label: string, d: Dispatch) => d.buffers.map((b, j) =>
      bindingOf(rt.limits, `${this.label}: ${label}`, d.kernel, j, resolve(b instanceof Slice ? b.of : b), b instanceof Slice ? b : undefined));
    let b: ReturnType<GpuRuntime['bind']>;
    try {
      b = rt.bind(this.label, this.dispatches.map(({ label, d }) => ({
        label, kernel: d.kernel, layout: rt.layoutOf(d.kernel), buffers: binding(label, d), params: packParams(d.kernel, d.params),
        grid: grid(rt.limits, d.workgroups, `${this.label}: ${label} (${d.kernel.name})`),
      })));
    } catch (e) {
      for (const buf of buffers) buf.destroy();
      throw e;
    }
    const owned = [...buffers, ...(b.uniform ? [b.uniform] : [])];
    const steps = b.bound;
    const ready = Promise.all([b.checked, ...this.dispatches.map(({ d }) => rt.prepare(d.kernel))]).then(([, ...preps]) => {
      steps.forEach((s, i) => { s.pipeline = preps[i]!.pipeline; });
    });
    ready.catch(() => {}); // thrown where it is awaited (CompiledGraph.ready, or the batch that queued the graph)
    return new CompiledGraph(rt, this.label, steps, owned, assignment, ready);
  }
}

/** Greedy interval allocation: values sorted by first use take the smallest free buffer that
 * fits, or a new one. A buffer is free again after the last use of its current tenant. */
function planBuffers(rt: GpuRuntime, lifetimes: Lifetime[], label: string): { assignment: Map<GraphValue, GPUBuffer>; buffers: GPUBuffer[] } {
  const used = lifetimes.filter((l) => l.last >= 0).sort((a, b) => a.first - b.first);
  const assignment = new Map<GraphValue, GPUBuffer>();
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
    assignment.set(l.value, buf);
    busy.push({ buf, until: l.last });
  }
  return { assignment, buffers };
}

/** GPU time of one op label and kernel in CompiledGraph.profile(). */
export interface ProfileRow {
  /** The op label given to GraphBuilder.emit(). */
  label: string;
  /** The kernel's name. */
  kernel: string;
  /** Dispatches of this label and kernel in the graph. */
  dispatches: number;
  /** Their summed GPU time, in milliseconds. */
  ms: number;
}

/** A step ready to run (GraphBuilder.compile()): every value assigned a buffer, every dispatch
 * bound. enqueue() queues it on its runtime; record() puts it into an encoder of your own. */
export class CompiledGraph {
  #destroyed = false;
  /** @internal Made by GraphBuilder.compile(). */
  constructor(
    /** The runtime the graph was built on. */
    readonly rt: GpuRuntime,
    /** The graph's name, in labels and error messages. */
    readonly label: string,
    /** @internal The bound dispatches, in order. */
    readonly steps: readonly Bound[],
    /** Buffers the graph made and destroy() frees: activations, scratch and its uniform buffer. */
    readonly ownedBuffers: readonly GPUBuffer[],
    /** The physical buffer of each graph value (values with disjoint lifetimes share one). */
    readonly assignment: ReadonlyMap<GraphValue, GPUBuffer>,
    /** Resolves once every pipeline is compiled; rejects naming a kernel that does not compile. */
    readonly ready: Promise<void>,
  ) {}

  /** Bytes of activation/scratch memory the plan holds (uniforms excluded). */
  get activationBytes(): number {
    return this.ownedBuffers.filter((b) => b.usage & 0x80).reduce((a, b) => a + b.size, 0);
  }

  /** A value's physical buffer (for reading results such as logits). */
  bufferOf(v: GraphValue): GPUBuffer {
    const b = this.assignment.get(v);
    if (!b) throw new Error(`deepfried: ${this.label}: value ${v.label} [${v.shape}] is not part of this graph`);
    return b;
  }

  /** Submits the queue and reads a value's buffer as it is after the work queued so far. */
  async read(v: GraphValue): Promise<Float32Array | Int32Array | Uint32Array> {
    const buf = this.bufferOf(v), bytes = v.size * 4;
    const raw = await this.rt.readback(bytes, `${this.label}: read ${v.label}`, (enc, staging) => enc.copyBufferToBuffer(buf, 0, staging, 0, bytes));
    return v.dtype === 'f32' ? new Float32Array(raw) : v.dtype === 'i32' ? new Int32Array(raw) : new Uint32Array(raw);
  }

  /** Records the whole graph into `encoder`: one compute pass, or one timed pass per dispatch. */
  record(encoder: GPUCommandEncoder, timer?: PassTimer): void {
    if (this.#destroyed) throw new Error(`deepfried: ${this.label} was destroyed`);
    encodeBound(encoder, this.label, this.steps, timer);
  }

  /** Queues the graph on its runtime, in order with eager ops; rt.flush()/sync()/a read submits it. */
  enqueue(): void {
    if (this.#destroyed) throw new Error(`deepfried: ${this.label} was destroyed`);
    // recorded even if destroy() comes before the batch is submitted: destroy() then defers
    // freeing the buffers until after that submit (rt.destroyAfterQueued)
    this.rt.enqueueEncoder(this.label, (enc) => encodeBound(enc, this.label, this.steps), this.ready);
  }

  /** Runs the graph once with a timestamp around every dispatch (one pass each) and sums the GPU
   * time per op label and kernel. Needs the 'timestamp-query' feature. */
  async profile(): Promise<ProfileRow[]> {
    await this.ready;
    const ns = await this.rt.timePasses(`${this.label} profile`, this.steps.length, (enc, timer) => this.record(enc, timer));
    const rows = new Map<string, ProfileRow>();
    this.steps.forEach((s, i) => {
      const key = `${s.label}|${s.kernel}`;
      const r = rows.get(key) ?? { label: s.label, kernel: s.kernel, dispatches: 0, ms: 0 };
      r.dispatches++;
      r.ms += ns[i]! / 1e6;
      rows.set(key, r);
    });
    return [...rows.values()];
  }

  /** Frees the graph's own buffers (after any queued run of it is submitted); it can no longer
   * run. Tensors it used are not touched. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.rt.destroyAfterQueued(this.ownedBuffers);
  }
}
