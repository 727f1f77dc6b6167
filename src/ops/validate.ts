// Shape and argument checks shared by the ops; every failure names the op and the argument.
import type { DType, TensorRef } from '../gpu/runtime.js';

export function fail(op: string, msg: string): never {
  throw new Error(`deepfried: ${op}: ${msg}`);
}

/** Throws unless `t` is a tensor (or graph value) that was not disposed. */
export function operand(op: string, name: string, t: unknown): asserts t is TensorRef {
  if (!t || typeof t !== 'object' || !('shape' in t) || !('dtype' in t)) fail(op, `${name} must be a tensor, got ${t === null ? 'null' : typeof t}`);
  if ((t as TensorRef).disposed) fail(op, `${name} was used after dispose()`);
}

export function rank(op: string, name: string, t: TensorRef, r: number, layout = ''): void {
  operand(op, name, t);
  if (t.shape.length !== r) fail(op, `${name} must have rank ${r}${layout ? ` (${layout})` : ''}, got shape [${t.shape}]`);
}

export function dtype(op: string, name: string, t: TensorRef, d: DType): void {
  if (t.dtype !== d) fail(op, `${name} must be ${d}, got ${t.dtype}`);
}

export function sameShape(op: string, an: string, a: TensorRef, bn: string, b: TensorRef): void {
  operand(op, an, a);
  operand(op, bn, b);
  if (a.shape.length !== b.shape.length || a.shape.some((s, i) => s !== b.shape[i])) {
    fail(op, `${an} has shape [${a.shape}] but ${bn} has shape [${b.shape}]`);
  }
}

/** Each named operand (null/undefined skipped) is a live f32 tensor. */
export function live(op: string, ts: Record<string, TensorRef | null | undefined>): void {
  for (const [n, t] of Object.entries(ts)) {
    if (t === null || t === undefined) continue;
    operand(op, n, t);
    dtype(op, n, t, 'f32');
  }
}

export function shapeIs(op: string, name: string, t: TensorRef, shape: readonly number[]): void {
  operand(op, name, t);
  if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) fail(op, `${name} must have shape [${shape}], got [${t.shape}]`);
}
