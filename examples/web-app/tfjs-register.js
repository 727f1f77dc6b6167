// A consumer that imports deepfried/tfjs only for its side effect: registering the DeepfriedFwht /
// DeepfriedFastfood kernels and the AdaptiveFastfood layer with tfjs ("sideEffects" must keep it).
import 'deepfried/tfjs';
