import type { GpuRuntime, Tensor } from '../gpu/runtime.js';
import type { PoolOptions } from './types.js';
export async function maxPool2d(rt: GpuRuntime, x: Tensor, opts: PoolOptions): Promise<any> { throw new Error('deepfried: maxPool2d is not implemented yet'); }
export async function maxPool2dBackward(rt: GpuRuntime, x: Tensor, dy: Tensor, opts: PoolOptions): Promise<any> { throw new Error('deepfried: maxPool2dBackward is not implemented yet'); }
export async function avgPool2d(rt: GpuRuntime, x: Tensor, opts: PoolOptions): Promise<any> { throw new Error('deepfried: avgPool2d is not implemented yet'); }
export async function avgPool2dBackward(rt: GpuRuntime, x: Tensor, dy: Tensor, opts: PoolOptions): Promise<any> { throw new Error('deepfried: avgPool2dBackward is not implemented yet'); }
