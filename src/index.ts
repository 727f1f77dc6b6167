/// <reference types="@webgpu/types" preserve="true" />
// The WebGPU types (GPUDevice, GPUBuffer, …) that the declarations below use come from @webgpu/types.
// The documented API (DESIGN.md §3); raw kernels for other frameworks are at 'deepfried/kernels'.

// Runtime, tensors, ops (rt.conv2d(…), rt.tidy(…), …).
export { createRuntime, type Runtime } from './api.js';
export type { GpuRuntime, Tensor, DType, TypedArray, RuntimeOptions, RuntimeStats } from './gpu/runtime.js';
export type { Tuning, TuningOptions } from './gpu/tuning.js';
export type * from './ops/types.js';

// Models and training.
export { Layer, Conv2d, MaxPool2d, AvgPool2d, ReLU, Flatten, Dropout, Linear, Fastfood, fastfoodInit, type Param, type LayerConfig, type Node, type BuildContext } from './nn/layers.js';
export { Sequential, mnistModel, layerFromConfig, MNIST_MODELS, type ModelConfig, type MnistModelName, type MnistModelOptions } from './nn/model.js';
export { compileTrainer, invSchedule, type Trainer, type OptimizerConfig, type Schedule, type TrainerOptions, type StepStats, type EvalResult } from './nn/trainer.js';
export { clearAutotuneCache, candidatesFor, verifyCandidate, type AutotuneResult, type AutotuneCandidate } from './nn/autotune.js';
export { fit, FIT_DEFAULTS, type FitOptions, type FitEvent, type FitResult, type FitIO } from './nn/fit.js';
export { toSafetensors, fromSafetensors, loadSafetensors } from './nn/safetensors.js';

// Data.
export { loadMnist, parseIdx, datasetFromIdx, shuffled, fillBatch, type Dataset } from './data/mnist.js';
export { seeded, gaussian } from './util/random.js';
