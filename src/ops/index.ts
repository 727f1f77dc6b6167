export { fwht } from './fwht.js';
export { fastfood, fastfoodBackward } from './fastfood.js';
export { conv2d, conv2dBackward } from './conv2d.js';
export { maxPool2d, maxPool2dBackward, avgPool2d, avgPool2dBackward } from './pool.js';
export { linear, linearBackward } from './linear.js';
export { relu, reluBackward } from './elementwise.js';
export { softmaxCrossEntropy, softmaxCrossEntropyBackward } from './softmax_xent.js';
