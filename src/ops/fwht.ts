import type { GpuRuntime, Tensor } from '../gpu/runtime.js';
import type { FwhtOptions } from './types.js';

export async function fwht(rt: GpuRuntime, x: Tensor, opts: FwhtOptions = {}): Promise<Tensor> {
  throw new Error('deepfried: fwht is not implemented yet');
}
