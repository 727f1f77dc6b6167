// float64 reference of conv2d (NCHW, weights [Cout, Cin, kh, kw], zero padding): the test oracle.

export interface ConvGeometry {
  N: number; Cin: number; H: number; W: number;
  Cout: number; kh: number; kw: number;
  sh: number; sw: number; ph: number; pw: number;
}

export const convOut = (g: ConvGeometry): [number, number] =>
  [Math.floor((g.H + 2 * g.ph - g.kh) / g.sh) + 1, Math.floor((g.W + 2 * g.pw - g.kw) / g.sw) + 1];

/** Calls f(n, co, ho, wo, ci, ky, kx, xIndex, wIndex, yIndex) for every in-bounds term of the sum. */
function forEachTerm(g: ConvGeometry, f: (xi: number, wi: number, yi: number, co: number) => void): void {
  const [Ho, Wo] = convOut(g);
  for (let n = 0; n < g.N; n++) for (let co = 0; co < g.Cout; co++) for (let ho = 0; ho < Ho; ho++) for (let wo = 0; wo < Wo; wo++) {
    const yi = ((n * g.Cout + co) * Ho + ho) * Wo + wo;
    for (let ci = 0; ci < g.Cin; ci++) for (let ky = 0; ky < g.kh; ky++) {
      const hi = ho * g.sh - g.ph + ky;
      if (hi < 0 || hi >= g.H) continue;
      for (let kx = 0; kx < g.kw; kx++) {
        const wi = wo * g.sw - g.pw + kx;
        if (wi < 0 || wi >= g.W) continue;
        f(((n * g.Cin + ci) * g.H + hi) * g.W + wi, ((co * g.Cin + ci) * g.kh + ky) * g.kw + kx, yi, co);
      }
    }
  }
}

export function conv2dRef(g: ConvGeometry, x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, relu = false): Float64Array {
  const [Ho, Wo] = convOut(g);
  const y = new Float64Array(g.N * g.Cout * Ho * Wo);
  if (b) for (let i = 0; i < y.length; i++) y[i] = b[Math.floor(i / (Ho * Wo)) % g.Cout]!;
  forEachTerm(g, (xi, wi, yi) => { y[yi]! += x[xi]! * w[wi]!; });
  if (relu) for (let i = 0; i < y.length; i++) y[i] = Math.max(y[i]!, 0);
  return y;
}

/** Gradients of sum(dy ⊙ conv2d(x, w, b)) (no activation). */
export function conv2dBackwardRef(g: ConvGeometry, x: ArrayLike<number>, w: ArrayLike<number>, dy: ArrayLike<number>):
  { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const dx = new Float64Array(g.N * g.Cin * g.H * g.W);
  const dw = new Float64Array(g.Cout * g.Cin * g.kh * g.kw);
  const db = new Float64Array(g.Cout);
  const [Ho, Wo] = convOut(g);
  for (let i = 0; i < dy.length; i++) db[Math.floor(i / (Ho * Wo)) % g.Cout]! += dy[i]!;
  forEachTerm(g, (xi, wi, yi) => {
    dx[xi]! += dy[yi]! * w[wi]!;
    dw[wi]! += dy[yi]! * x[xi]!;
  });
  return { dx, dw, db };
}
