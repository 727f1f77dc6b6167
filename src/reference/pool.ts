// float64 pooling references over NCHW (the test oracle). kernel/stride/padding are [h, w].
export interface PoolRefGeometry { kernel: [number, number]; stride: [number, number]; padding: [number, number] }
type Shape4 = readonly [number, number, number, number];

export function poolOutShape([n, c, h, w]: Shape4, g: PoolRefGeometry): [number, number, number, number] {
  return [n, c, Math.floor((h + 2 * g.padding[0] - g.kernel[0]) / g.stride[0]) + 1,
    Math.floor((w + 2 * g.padding[1] - g.kernel[1]) / g.stride[1]) + 1];
}

/** Calls f(outIndex, plane, inside-window cell indices in row-major order) for every window. */
function windows(shape: Shape4, g: PoolRefGeometry, f: (o: number, cells: number[]) => void): void {
  const [n, c, h, w] = shape;
  const [, , oh, ow] = poolOutShape(shape, g);
  for (let p = 0; p < n * c; p++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const cells: number[] = [];
        for (let a = 0; a < g.kernel[0]; a++) {
          for (let b = 0; b < g.kernel[1]; b++) {
            const y = i * g.stride[0] - g.padding[0] + a, x = j * g.stride[1] - g.padding[1] + b;
            if (y >= 0 && y < h && x >= 0 && x < w) cells.push(p * h * w + y * w + x);
          }
        }
        f((p * oh + i) * ow + j, cells);
      }
    }
  }
}

const outSize = (shape: Shape4, g: PoolRefGeometry) => poolOutShape(shape, g).reduce((a, b) => a * b, 1);

/** y and the first-maximum cell of each window (index within its plane, ih·W + iw). */
export function maxPoolRef(x: ArrayLike<number>, shape: Shape4, g: PoolRefGeometry): { y: Float64Array; argmax: Int32Array } {
  const y = new Float64Array(outSize(shape, g)), argmax = new Int32Array(y.length);
  const plane = shape[2] * shape[3];
  windows(shape, g, (o, cells) => {
    let best = cells[0]!;
    for (const cc of cells) if (x[cc]! > x[best]!) best = cc;
    y[o] = x[best]!;
    argmax[o] = best % plane;
  });
  return { y, argmax };
}

export function maxPoolBackwardRef(x: ArrayLike<number>, shape: Shape4, dy: ArrayLike<number>, g: PoolRefGeometry): Float64Array {
  const dx = new Float64Array(x.length);
  windows(shape, g, (o, cells) => {
    let best = cells[0]!;
    for (const cc of cells) if (x[cc]! > x[best]!) best = cc;
    dx[best]! += dy[o]!;
  });
  return dx;
}

export function avgPoolRef(x: ArrayLike<number>, shape: Shape4, g: PoolRefGeometry): Float64Array {
  const y = new Float64Array(outSize(shape, g));
  windows(shape, g, (o, cells) => { y[o] = cells.reduce((s, cc) => s + x[cc]!, 0) / cells.length; });
  return y;
}

export function avgPoolBackwardRef(shape: Shape4, dy: ArrayLike<number>, g: PoolRefGeometry): Float64Array {
  const dx = new Float64Array(shape.reduce((a, b) => a * b, 1));
  windows(shape, g, (o, cells) => { for (const cc of cells) dx[cc]! += dy[o]! / cells.length; });
  return dx;
}
