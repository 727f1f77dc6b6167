import type { GpuCase } from '../harness.js';

export const softmaxCases: GpuCase[] = [];
