// Reductions other ops reuse for bias gradients.
import { channelSumKernel, reduceWorkgroups } from '../../kernels/reduce.wgsl.js';
import type { Dispatch, EncodeContext, TensorRef } from '../gpu/runtime.js';
import { fail, operand } from './validate.js';

/** out[c] = Σ_o Σ_i x[o, c, i] with x viewed as [outer, channels, inner] (conv bias gradient:
 * outer = N, channels = C, inner = H·W). */
export function encodeChannelSum(ctx: EncodeContext, x: TensorRef, out: TensorRef, outer: number, channels: number, inner: number): Dispatch[] {
  operand('channelSum', 'x', x);
  operand('channelSum', 'out', out);
  if (outer * channels * inner !== x.size) fail('channelSum', `x of shape [${x.shape}] is not [${outer}, ${channels}, ${inner}]`);
  if (out.size !== channels) fail('channelSum', `out must have ${channels} elements, got shape [${out.shape}]`);
  return [{ kernel: channelSumKernel(), buffers: [x, out], params: { outer, channels, inner }, workgroups: reduceWorkgroups(channels) }];
}

/** out[c] = Σ_r x[r, c] for x [R, C], out [C]. */
export function encodeColumnSum(ctx: EncodeContext, x: TensorRef, out: TensorRef): Dispatch[] {
  if (x.shape.length !== 2) fail('columnSum', `x must have rank 2, got shape [${x.shape}]`);
  return encodeChannelSum(ctx, x, out, x.shape[0]!, x.shape[1]!, 1);
}
