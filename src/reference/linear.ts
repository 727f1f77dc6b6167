// float64 linear references: x [n, fin], w [fout, fin], b [fout] or null, all row-major.
export function linearRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null,
  n: number, fin: number, fout: number, relu = false): Float64Array {
  const y = new Float64Array(n * fout);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < fout; o++) {
      let s = b ? b[o]! : 0;
      for (let k = 0; k < fin; k++) s += x[r * fin + k]! * w[o * fin + k]!;
      y[r * fout + o] = relu ? Math.max(s, 0) : s;
    }
  }
  return y;
}

export function linearBackwardRef(x: ArrayLike<number>, w: ArrayLike<number>, dy: ArrayLike<number>,
  n: number, fin: number, fout: number): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const dx = new Float64Array(n * fin), dw = new Float64Array(fout * fin), db = new Float64Array(fout);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < fout; o++) {
      const g = dy[r * fout + o]!;
      db[o]! += g;
      for (let k = 0; k < fin; k++) {
        dx[r * fin + k]! += g * w[o * fin + k]!;
        dw[o * fin + k]! += g * x[r * fin + k]!;
      }
    }
  }
  return { dx, dw, db };
}
