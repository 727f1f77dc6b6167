// The one place where dispatches become GPU commands: uniform packing, binding, and encoding of
// compute passes (with or without timestamps). The eager queue, rt.record (a caller's encoder),
// compiled graphs, their profiler and the bench's timer all go through here.
import type { KernelInstance } from '../../kernels/common.js';

/** A uniform slot: params occupy 4 bytes each, in 16-byte rows (WGSL uniform struct alignment). */
export const uniformBytes = (kernel: KernelInstance): number => Math.max(16, Math.ceil(kernel.params.length / 4) * 16);

/** A kernel's Params by field name (kernels/common.ts KernelInstance.params). */
export type Params = Readonly<Record<string, number>>;

/** Packs a kernel's Params, named field by field, into its uniform struct (each field a 4-byte
 * scalar of its declared type, in declaration order); throws naming the kernel and the field that
 * is missing, unknown, or does not fit its type. */
export function packParams(kernel: KernelInstance, values: Params): Uint32Array {
  for (const name of Object.keys(values)) {
    if (!kernel.params.some(([n]) => n === name)) {
      throw new Error(`deepfried: kernel "${kernel.name}" has no param ${name} (its params: ${kernel.params.map(([n]) => n).join(', ') || 'none'})`);
    }
  }
  const u = new Uint32Array(uniformBytes(kernel) / 4), i = new Int32Array(u.buffer), f = new Float32Array(u.buffer);
  kernel.params.forEach(([name, type], k) => {
    const v = values[name];
    if (v === undefined) throw new Error(`deepfried: kernel "${kernel.name}" param ${name} is missing`);
    if (type === 'f32') f[k] = v;
    else if (!Number.isInteger(v) || (type === 'u32' ? v < 0 || v > 0xffffffff : v < -(2 ** 31) || v >= 2 ** 31)) {
      throw new Error(`deepfried: kernel "${kernel.name}" param ${name} = ${v} does not fit ${type}`);
    } else if (type === 'u32') u[k] = v;
    else i[k] = v;
  });
  return u;
}

/** What one storage binding of a dispatch binds: a whole buffer (its size checked against the
 * device's maxStorageBufferBindingSize, naming the op, kernel and binding) or a range of one. */
export function bindingOf(limits: GPUSupportedLimits, where: string, kernel: KernelInstance, j: number, buffer: GPUBuffer, range?: { offset: number; size: number }): GPUBufferBinding {
  const size = range ? range.size : buffer.size;
  const name = kernel.bindings[j]?.name ?? `#${j + 1}`;
  if (size > limits.maxStorageBufferBindingSize) {
    throw new Error(`deepfried: ${where}: kernel ${kernel.name} binds ${size} bytes as "${name}", over this device's limit (maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize})`);
  }
  if (!range) return { buffer };
  if (range.offset % limits.minStorageBufferOffsetAlignment || range.offset + range.size > buffer.size) {
    throw new Error(`deepfried: ${where}: kernel ${kernel.name} binds bytes ${range.offset}…${range.offset + range.size} of a ${buffer.size}-byte buffer as "${name}" (offsets are multiples of ${limits.minStorageBufferOffsetAlignment}, inside the buffer)`);
  }
  return { buffer, offset: range.offset, size: range.size };
}

/** A dispatch whose buffers are known: what gets bound. */
export interface Unbound {
  label: string;
  kernel: KernelInstance;
  layout: GPUBindGroupLayout;
  /** One per storage binding: a whole buffer, or a range of one (a Slice resolved). */
  buffers: readonly GPUBufferBinding[];
  params: Uint32Array;
  grid: readonly [number, number];
}

/** A dispatch ready to encode once its pipeline is set (bind groups need only the layout, so a
 * graph binds while its pipelines still compile). */
export interface Bound {
  label: string;
  kernel: string;
  pipeline: GPUComputePipeline | null;
  group: GPUBindGroup;
  grid: readonly [number, number];
}

/** Packs every dispatch's params into one uniform buffer (one aligned slot each) and creates the
 * bind groups. The caller destroys the returned uniform buffer once the work is submitted (or
 * keeps it, as a compiled graph does). */
export function bindAll(device: GPUDevice, createBuffer: (d: GPUBufferDescriptor) => GPUBuffer, label: string,
  items: readonly Unbound[]): { bound: Bound[]; uniform: GPUBuffer | null } {
  if (!items.length) return { bound: [], uniform: null };
  const align = device.limits.minUniformBufferOffsetAlignment;
  const offsets: number[] = [];
  let size = 0;
  for (const it of items) {
    offsets.push(size);
    size += Math.ceil(it.params.byteLength / align) * align;
  }
  const uniform = createBuffer({ label: `deepfried:${label} params`, size, usage: 0x40 /* UNIFORM */, mappedAtCreation: true });
  const words = new Uint32Array(uniform.getMappedRange());
  items.forEach((it, i) => words.set(it.params, offsets[i]! / 4));
  uniform.unmap();
  const bound = items.map((it, i): Bound => {
    const k = it.kernel;
    if (it.buffers.length !== k.bindings.length) {
      throw new Error(`deepfried: ${it.label}: kernel "${k.name}" binds ${k.bindings.length} buffers, got ${it.buffers.length}`);
    }
    const group = device.createBindGroup({
      label: `deepfried:${it.label}`,
      layout: it.layout,
      entries: [
        { binding: 0, resource: { buffer: uniform, offset: offsets[i]!, size: it.params.byteLength } },
        ...it.buffers.map((b, j) => ({ binding: j + 1, resource: b })),
      ],
    });
    return { label: it.label, kernel: k.name, pipeline: null, group, grid: it.grid };
  });
  return { bound, uniform };
}

/** Hands out timestamp writes, one pair per pass, and resolves them before the encoder finishes. */
export interface PassTimer {
  /** Timestamp writes for the next pass (undefined once its query set is full). */
  next(): GPUComputePassTimestampWrites | undefined;
  /** Called after the last pass, before encoder.finish(). */
  resolve(encoder: GPUCommandEncoder): void;
}

/** Encodes dispatches as one compute pass, or with a timer one pass per dispatch, each timed. */
export function encodeBound(encoder: GPUCommandEncoder, label: string, bound: readonly Bound[], timer?: PassTimer): void {
  if (!bound.length) return;
  let pass: GPUComputePassEncoder | null = null;
  for (const b of bound) {
    if (!b.pipeline) throw new Error(`deepfried: ${b.label}: the pipeline of kernel "${b.kernel}" is not ready`);
    pass ??= encoder.beginComputePass({ label: `deepfried:${label}`, timestampWrites: timer?.next() });
    pass.setPipeline(b.pipeline);
    pass.setBindGroup(0, b.group);
    pass.dispatchWorkgroups(b.grid[0], b.grid[1]);
    if (timer) { pass.end(); pass = null; }
  }
  pass?.end();
}

/** Splits a workgroup count over x and y when it passes maxComputeWorkgroupsPerDimension. */
export function grid(limits: GPUSupportedLimits, workgroups: number, what: string): [number, number] {
  const max = limits.maxComputeWorkgroupsPerDimension;
  if (workgroups <= max) return [Math.max(1, workgroups), 1];
  const y = Math.ceil(workgroups / max);
  if (y > max) throw new Error(`deepfried: ${what}: ${workgroups} workgroups exceed this device's dispatch limit (${max}²)`);
  return [Math.ceil(workgroups / y), y];
}
