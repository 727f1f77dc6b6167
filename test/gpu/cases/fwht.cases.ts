import type { GpuCase } from '../harness.js';

export const fwhtCases: GpuCase[] = [];
