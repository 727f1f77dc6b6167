// float64 references (the test oracle).
export const reluRef = (x: ArrayLike<number>): Float64Array => Float64Array.from(x, (v) => Math.max(v, 0));
export const reluBackwardRef = (x: ArrayLike<number>, dy: ArrayLike<number>): Float64Array =>
  Float64Array.from(x, (v, i) => (v > 0 ? dy[i]! : 0));
