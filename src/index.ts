export { createRuntime, Runtime } from './api.js';
export { Tensor, GpuRuntime, Recorder, type Dispatch, type EncodeContext, type DType, type TypedArray, type RuntimeOptions, type RuntimeStats, type Prepared } from './gpu/runtime.js';
export type * from './ops/types.js';
export type { KernelInstance, BindingDecl } from '../kernels/common.js';
