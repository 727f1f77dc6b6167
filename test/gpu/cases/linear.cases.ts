import type { GpuCase } from '../harness.js';

export const linearCases: GpuCase[] = [];
