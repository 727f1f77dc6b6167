// A consumer that uses one kernel: the FWHT recorder from 'deepfried/kernels'. Tree shaking must
// leave every other kernel (convolution, pooling, matmul, Fastfood, …) out of its bundle.
import { encodeFwht } from 'deepfried/kernels';

export function hadamard(ctx, x, y) {
  return encodeFwht(ctx, x, y, 1 / Math.sqrt(x.shape[x.shape.length - 1]));
}
