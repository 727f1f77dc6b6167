import type { GpuRuntime, Tensor } from '../gpu/runtime.js';

export async function linear(rt: GpuRuntime, x: Tensor, w: Tensor, b: Tensor | null): Promise<any> { throw new Error('deepfried: linear is not implemented yet'); }
export async function linearBackward(rt: GpuRuntime, x: Tensor, w: Tensor, dy: Tensor): Promise<any> { throw new Error('deepfried: linearBackward is not implemented yet'); }
