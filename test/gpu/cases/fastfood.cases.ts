import type { GpuCase } from '../harness.js';

export const fastfoodCases: GpuCase[] = [];
