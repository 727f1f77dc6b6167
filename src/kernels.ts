/// <reference types="@webgpu/types" preserve="true" />
// deepfried/kernels: our kernels for other frameworks and your own WebGPU code. Each op's
// `encodeX(ctx, …)` returns its dispatches without running them; `rt.record(encoder, label,
// (ctx) => encodeX(ctx, …))` records them as one compute pass into your GPUCommandEncoder, on
// buffers you own (`rt.wrap(buffer, shape)`), and you submit.
export type { Dispatch, EncodeContext, TensorRef } from './gpu/runtime.js';
export { Slice } from './gpu/runtime.js';
export type { KernelInstance, KernelFamily, BindingDecl } from '../kernels/common.js';

export { encodeConv2d, encodeConv2dBackward, conv2dShape } from './ops/conv2d.js';
export { encodeFastfood, encodeFastfoodBackward, fastfoodShape, type FastfoodDeviceParams, type FastfoodSaved, type FastfoodBackwardOut } from './ops/fastfood.js';
export { encodeFwht } from './ops/fwht.js';
export { encodeLinear, encodeLinearBackward, linearShape } from './ops/linear.js';
export { encodeMaxPool2d, encodeMaxPool2dBackward, encodeAvgPool2d, encodeAvgPool2dBackward, pool2dShape } from './ops/pool.js';
export { encodeRelu, encodeReluBackward, encodeDropout } from './ops/elementwise.js';
export { encodeSoftmaxCrossEntropy } from './ops/softmax_xent.js';
export { encodeSgd, encodeAdam, encodeAccumulate } from './ops/optim.js';

// The scheduler, for layers of your own: a step recorded once over graph values, compiled to buffers.
export { GraphBuilder, GraphValue, CompiledGraph, type ProfileRow } from './graph/graph.js';
// Types the encoders above take or return.
export type { FastfoodShape } from './ops/fastfood.js';
export type { LinearOptions } from './ops/linear.js';
export type { SgdOptions, AdamOptions } from './ops/optim.js';
export type { Params, PassTimer } from './gpu/submit.js';
export type { Prepared } from './gpu/pipelines.js';
