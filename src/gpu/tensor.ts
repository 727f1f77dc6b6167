// Tensors and the shape/data checks every layer above uses.
import type { GpuRuntime } from './runtime.js';

/** Element type of a tensor; every element is 4 bytes. */
export type DType = 'f32' | 'i32' | 'u32';
/** Host data of a tensor: Float32Array for f32, Int32Array for i32, Uint32Array for u32. */
export type TypedArray = Float32Array | Int32Array | Uint32Array;
export type IntArray = Int32Array | Uint32Array;

export const ARRAYS = { f32: Float32Array, i32: Int32Array, u32: Uint32Array } as const;

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

export function dtypeOf(data: unknown): DType {
  if (data instanceof Float32Array) return 'f32';
  if (data instanceof Int32Array) return 'i32';
  if (data instanceof Uint32Array) return 'u32';
  throw new Error(`deepfried: tensor data must be a Float32Array, Int32Array or Uint32Array, got ${describe(data)}`);
}

/** What an op's encoder needs of an operand: an eager Tensor, or a value of a graph being built
 * (src/graph), which has a shape but no buffer until the graph is compiled. */
export interface TensorRef {
  /** Dimensions, outermost first (e.g. [N, C, H, W]). */
  readonly shape: readonly number[];
  /** Number of elements: the product of the shape. */
  readonly size: number;
  /** Element type. */
  readonly dtype: DType;
  /** dispose() was called; an op given it throws. */
  readonly disposed: boolean;
}

/**
 * A GPU array owned by a runtime. Ops that produce one return it at once; the work that fills it
 * is queued on the runtime and submitted by `read()`, `rt.sync()` or once the queue is long.
 */
export class Tensor implements TensorRef {
  #buffer: GPUBuffer | null;
  /** Number of elements: the product of the shape. */
  readonly size: number;
  /** @internal Host copy of integer data uploaded by rt.tensor()/rt.write(): lets ops check labels
   * and permutations at the call instead of on the GPU. Absent for op outputs and wrapped buffers. */
  host: IntArray | undefined;
  /** @internal */
  constructor(
    /** The runtime that owns the tensor; ops take tensors of one runtime only. */
    readonly rt: GpuRuntime,
    buffer: GPUBuffer,
    /** Dimensions, outermost first (e.g. [N, C, H, W]). */
    readonly shape: readonly number[],
    /** Element type. */
    readonly dtype: DType,
    /** Caller-owned buffers (rt.wrap) are never destroyed or pooled by us. */
    readonly owned: boolean,
  ) {
    this.#buffer = buffer;
    this.size = shapeSize(shape);
  }
  /** dispose() was called: the tensor can no longer be used. */
  get disposed(): boolean { return this.#buffer === null; }
  /** Size of the data in bytes: 4 per element. */
  get byteLength(): number { return this.size * 4; }
  /** The underlying buffer; throws if the tensor was disposed. */
  get buffer(): GPUBuffer {
    if (!this.#buffer) throw new Error(`deepfried: tensor [${this.shape}] was used after dispose()`);
    return this.#buffer;
  }
  /** Submits the queued work and reads the tensor back. A GPU error of queued work rejects here, naming its op. */
  read(): Promise<TypedArray> {
    return this.rt.read(this);
  }
  /** Frees the tensor (its buffer goes back to the runtime's pool once queued work no longer needs it). */
  dispose(): void {
    if (!this.#buffer) return;
    if (this.owned) this.rt.release(this.#buffer);
    this.#buffer = null;
    this.host = undefined;
  }
}
