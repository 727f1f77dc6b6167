// Shape and argument checks shared by the ops; every failure names the op and the argument.
import type { DType, Tensor } from '../gpu/runtime.js';

export function fail(op: string, msg: string): never {
  throw new Error(`deepfried: ${op}: ${msg}`);
}

export function rank(op: string, name: string, t: Tensor, r: number, layout = ''): void {
  if (t.disposed) fail(op, `${name} was used after dispose()`);
  if (t.shape.length !== r) fail(op, `${name} must have rank ${r}${layout ? ` (${layout})` : ''}, got shape [${t.shape}]`);
}

export function dtype(op: string, name: string, t: Tensor, d: DType): void {
  if (t.dtype !== d) fail(op, `${name} must be ${d}, got ${t.dtype}`);
}

export function sameShape(op: string, an: string, a: Tensor, bn: string, b: Tensor): void {
  if (a.disposed || b.disposed) fail(op, `${a.disposed ? an : bn} was used after dispose()`);
  if (a.shape.length !== b.shape.length || a.shape.some((s, i) => s !== b.shape[i])) {
    fail(op, `${an} has shape [${a.shape}] but ${bn} has shape [${b.shape}]`);
  }
}
