/// <reference types="@webgpu/types" preserve="true" />
// The WebGPU types (GPUDevice, GPUBuffer, …) that the declarations below use come from @webgpu/types.
export { createRuntime, Runtime } from './api.js';
export { Tensor, GpuRuntime, Recorder, type Dispatch, type EncodeContext, type DType, type TypedArray, type RuntimeOptions, type RuntimeStats, type Prepared } from './gpu/runtime.js';
export type * from './ops/types.js';
export type { KernelInstance, BindingDecl } from '../kernels/common.js';

// Lower level: each op's dispatches, for recording into your own encoder or graph.
export * as ops from './ops/index.js';
export { encodeConv2d, encodeConv2dBackward, conv2dShape } from './ops/conv2d.js';
export { encodeFastfood, encodeFastfoodBackward, fastfoodShape } from './ops/fastfood.js';
export { encodeFwht } from './ops/fwht.js';
export { encodeLinear, encodeLinearBackward, linearShape } from './ops/linear.js';
export { encodeMaxPool2d, encodeMaxPool2dBackward, encodeAvgPool2d, encodeAvgPool2dBackward, pool2dShape } from './ops/pool.js';
export { encodeRelu, encodeReluBackward } from './ops/elementwise.js';
export { encodeSoftmaxCrossEntropy } from './ops/softmax_xent.js';

// Training.
export { GraphBuilder, CompiledGraph, type ProfileRow } from './graph/graph.js';
export { Layer, Conv2d, MaxPool2d, AvgPool2d, ReLU, Flatten, Dropout, Linear, Fastfood, fastfoodInit, type Param, type Node, type BuildContext } from './nn/layers.js';
export { Sequential, mnistModel, MNIST_MODELS, type MnistModelName, type MnistModelOptions } from './nn/model.js';
export { Trainer, compileTrainer, invSchedule, type OptimizerConfig, type Schedule, type TrainerOptions, type StepStats, type EvalResult } from './nn/trainer.js';
export { saveCheckpoint, loadCheckpoint, CHECKPOINT_VERSION } from './nn/checkpoint.js';
export { fit, FIT_DEFAULTS, type FitOptions, type FitEvent, type FitResult } from './nn/fit.js';
export { loadMnist, parseIdx, datasetFromIdx, shuffled, fillBatch, type Dataset } from './data/mnist.js';
export { seeded, gaussian } from './util/random.js';
