import type { GpuRuntime, Tensor } from '../gpu/runtime.js';
import type { Conv2dOptions } from './types.js';
export async function conv2d(rt: GpuRuntime, x: Tensor, w: Tensor, b: Tensor | null, opts?: Conv2dOptions): Promise<any> { throw new Error('deepfried: conv2d is not implemented yet'); }
export async function conv2dBackward(rt: GpuRuntime, x: Tensor, w: Tensor, dy: Tensor, opts?: Conv2dOptions): Promise<any> { throw new Error('deepfried: conv2dBackward is not implemented yet'); }
