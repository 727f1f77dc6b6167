// float64 softmax cross-entropy references: logits [n, c], integer labels [n].
function rowSoftmax(z: ArrayLike<number>, r: number, c: number): { p: Float64Array; lse: number } {
  let m = -Infinity;
  for (let j = 0; j < c; j++) m = Math.max(m, z[r * c + j]!);
  let s = 0;
  for (let j = 0; j < c; j++) s += Math.exp(z[r * c + j]! - m);
  const p = new Float64Array(c);
  for (let j = 0; j < c; j++) p[j] = Math.exp(z[r * c + j]! - m) / s;
  return { p, lse: m + Math.log(s) };
}

/** Mean over rows of log Σ exp(z) − z[label]. */
export function softmaxXentRef(z: ArrayLike<number>, labels: ArrayLike<number>, n: number, c: number): number {
  let total = 0;
  for (let r = 0; r < n; r++) total += rowSoftmax(z, r, c).lse - z[r * c + labels[r]!]!;
  return total / n;
}

/** (softmax − onehot) / n. */
export function softmaxXentBackwardRef(z: ArrayLike<number>, labels: ArrayLike<number>, n: number, c: number): Float64Array {
  const d = new Float64Array(n * c);
  for (let r = 0; r < n; r++) {
    const { p } = rowSoftmax(z, r, c);
    for (let j = 0; j < c; j++) d[r * c + j] = (p[j]! - (j === labels[r] ? 1 : 0)) / n;
  }
  return d;
}

/** Rows whose first maximum is the label. */
export function correctRef(z: ArrayLike<number>, labels: ArrayLike<number>, n: number, c: number): number {
  let k = 0;
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (z[r * c + j]! > z[r * c + best]!) best = j;
    if (best === labels[r]) k++;
  }
  return k;
}
