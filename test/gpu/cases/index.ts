// Every GPU case, in the order they run. Each family lives in its own file.
import type { GpuCase } from '../harness.js';
import { autotuneCases } from './autotune.cases.js';
import { convCases } from './conv.cases.js';
import { elementwiseCases } from './elementwise.cases.js';
import { fastfoodCases } from './fastfood.cases.js';
import { fuzzCases } from './fuzz.cases.js';
import { fwhtCases } from './fwht.cases.js';
import { graphCases } from './graph.cases.js';
import { libraryCases } from './library.cases.js';
import { limitsCases } from './limits.cases.js';
import { linearCases } from './linear.cases.js';
import { poolCases } from './pool.cases.js';
import { runtimeCases } from './runtime.cases.js';
import { safetensorsCases } from './safetensors.cases.js';
import { softmaxCases } from './softmax.cases.js';
import { tfjsCases } from './tfjs.cases.js';
import { trainCases } from './train.cases.js';

export const cases: GpuCase[] = [
  ...runtimeCases, ...libraryCases, ...elementwiseCases, ...fwhtCases, ...fastfoodCases,
  ...convCases, ...poolCases, ...linearCases, ...softmaxCases, ...graphCases, ...trainCases,
  ...safetensorsCases, ...tfjsCases, ...limitsCases, ...autotuneCases, ...fuzzCases,
];
