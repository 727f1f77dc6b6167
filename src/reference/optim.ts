// float64 references of the optimizer updates (kernels/optim.wgsl.ts).
export function sgdRef(w: ArrayLike<number>, v: ArrayLike<number>, g: ArrayLike<number>, lr: number, momentum: number, decay: number) {
  const vn = Float64Array.from(v, (vi, i) => momentum * vi + g[i]! + decay * w[i]!);
  return { w: Float64Array.from(w, (wi, i) => wi - lr * vn[i]!), v: vn };
}

export function adamRef(w: ArrayLike<number>, m: ArrayLike<number>, v: ArrayLike<number>, g: ArrayLike<number>, o: { lr: number; beta1: number; beta2: number; eps: number; decay: number; t: number }) {
  const gi = Float64Array.from(g, (x, i) => x + o.decay * w[i]!);
  const mn = Float64Array.from(m, (x, i) => o.beta1 * x + (1 - o.beta1) * gi[i]!);
  const vn = Float64Array.from(v, (x, i) => o.beta2 * x + (1 - o.beta2) * gi[i]! ** 2);
  const c1 = 1 / (1 - o.beta1 ** o.t), c2 = 1 / (1 - o.beta2 ** o.t);
  return { w: Float64Array.from(w, (x, i) => x - (o.lr * mn[i]! * c1) / (Math.sqrt(vn[i]! * c2) + o.eps)), m: mn, v: vn };
}
