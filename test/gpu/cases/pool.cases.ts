import type { GpuCase } from '../harness.js';

export const poolCases: GpuCase[] = [];
