import type { GpuRuntime, Tensor } from '../gpu/runtime.js';

export async function softmaxCrossEntropy(rt: GpuRuntime, logits: Tensor, labels: Tensor): Promise<any> { throw new Error('deepfried: softmaxCrossEntropy is not implemented yet'); }
export async function softmaxCrossEntropyBackward(rt: GpuRuntime, logits: Tensor, labels: Tensor): Promise<any> { throw new Error('deepfried: softmaxCrossEntropyBackward is not implemented yet'); }
