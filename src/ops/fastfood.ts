import type { GpuRuntime, Tensor } from '../gpu/runtime.js';
import type { FastfoodParams } from './types.js';
export async function fastfood(rt: GpuRuntime, x: Tensor, p: FastfoodParams): Promise<any> { throw new Error('deepfried: fastfood is not implemented yet'); }
export async function fastfoodBackward(rt: GpuRuntime, x: Tensor, p: FastfoodParams, dy: Tensor): Promise<any> { throw new Error('deepfried: fastfoodBackward is not implemented yet'); }
