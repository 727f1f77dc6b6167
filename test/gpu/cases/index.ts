// Every GPU case, in the order they run. Each family lives in its own file.
import type { GpuCase } from '../harness.js';
import { elementwiseCases } from './elementwise.cases.js';
import { runtimeCases } from './runtime.cases.js';

export const cases: GpuCase[] = [...runtimeCases, ...elementwiseCases];
