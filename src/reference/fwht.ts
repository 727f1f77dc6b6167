// float64 reference of the unnormalised Walsh–Hadamard transform along the last axis.

/** y = scale·H·x for each row of length d (a power of two); H[i][j] = (−1)^popcount(i & j). */
export function fwhtRef(x: ArrayLike<number>, d: number, scale = 1): Float64Array {
  const y = Float64Array.from(x);
  for (let r = 0; r < y.length; r += d) fwhtInPlace(y, r, d);
  if (scale !== 1) for (let i = 0; i < y.length; i++) y[i]! *= scale;
  return y;
}

export function fwhtInPlace(v: Float64Array, off: number, d: number): void {
  for (let h = 1; h < d; h <<= 1) {
    for (let i = 0; i < d; i += h << 1) {
      for (let j = i; j < i + h; j++) {
        const a = v[off + j]!, b = v[off + j + h]!;
        v[off + j] = a + b;
        v[off + j + h] = a - b;
      }
    }
  }
}
