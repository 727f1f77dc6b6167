import type { GpuCase } from '../harness.js';

export const convCases: GpuCase[] = [];
