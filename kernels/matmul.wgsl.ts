// Register-tiled matmul C[M, N] = A·B (+ bias[n]) (ReLU) (or C += A·B), one TM×TN tile of C per
// invocation. A(m, k) and B(k, n) are read through one of three layouts so that the linear layer's
// forward (x·wᵀ), input gradient (dy·w) and weight gradient (dyᵀ·x) need no transposes:
//   'nt': A = a[m*lda + aOff + k], B = b[n*K + k]     'nn': A = a[m*lda + aOff + k], B = b[k*N + n]
//   'tn': A = a[k*lda + aOff + m], B = b[k*N + n]     C(m, n) = c[m*ldc + cOff + n]
// (lda = K or M and ldc = N, offsets 0, for whole matrices; a linear layer whose weight is larger
// than one binding works through it in row blocks, src/ops/linear.ts, reading and writing column
// blocks of dy and y through lda/aOff and ldc/cOff.)
// An operand whose contiguous axis is a multiple of 4 can be bound as array<vec4f> (vecA/vecB):
// one load then brings 4 values (on SwiftShader every load is a per-lane scalarised, bounds-checked
// access, so loads, not FMAs, bound the speed). Everything is unrolled from TS into constant-index
// registers; rows/columns past the edge are clamped for loads (always in bounds, no branch) and
// masked only at the store.
// Quad variant: the 4 invocations of a quad hold 4 adjacent column tiles of the same rows (tilesN is
// padded to a multiple of 4; this assumes quads are 4 consecutive local invocation indices, as on
// every implementation we know), so each loads a quarter of A's values and quadBroadcast shares them.
import { family, kernel, ro, rw, type BindingDecl, type KernelInstance, type Element } from './common.js';

export type MatmulLayout = 'nt' | 'nn' | 'tn';
export interface MatmulVariant {
  layout: MatmulLayout;
  /** Bind A as vec4 along its contiguous axis (K for 'nt'/'nn', M for 'tn'), which must be a multiple of 4. */
  vecA?: boolean;
  /** Bind B as vec4 along its contiguous axis (K for 'nt', N for 'nn'/'tn'), which must be a multiple of 4. */
  vecB?: boolean;
  bias?: boolean;
  relu?: boolean;
  /** Rows and columns of C per invocation, multiples of 4. */
  tm?: number;
  tn?: number;
  /** Invocations per workgroup. */
  wg?: number;
  /** Bind C (and the bias) as vec4; N must be a multiple of 4. */
  vecC?: boolean;
  /** Share A's loads across each quad of a subgroup (needs the subgroups feature and vecA). */
  quad?: boolean;
  /** C += A·B (no bias, no ReLU). */
  accumulate?: boolean;
}

/** Row strides and offsets, in elements, of A and C inside larger matrices (see the top). */
export interface MatmulStrides {
  lda: number;
  aOff: number;
  ldc: number;
  cOff: number;
}

export const MATMUL_WG = 64;
const KU = 4;
const VEC4: Element = 'vec4<f32>';

export function matmulTile(v: MatmulVariant): [number, number] {
  return [v.tm ?? 8, v.tn ?? 8];
}

/** The variant for an M×N×K product: vec4 operands wherever the sizes allow; tiles of `maxTile`
 * (8 or 16) along a dimension of at least 16, 8 along one of 5–15, 4 along one of at most 4;
 * quads sharing A where `extra.quad` asks for it and it pays; small workgroups when there are few
 * tiles, so that SwiftShader (one workgroup per CPU thread, every invocation of a workgroup run
 * even when it returns at once) still spreads the work over its threads. */
export function matmulVariant(layout: MatmulLayout, m: number, n: number, k: number, extra: Partial<MatmulVariant> = {}, maxTile: 8 | 16 = 8, s: Partial<MatmulStrides> = {}): MatmulVariant {
  const by4 = (...xs: (number | undefined)[]) => xs.every((x) => (x ?? 0) % 4 === 0);
  const vecA = (layout === 'tn' ? m : k) % 4 === 0 && by4(s.lda, s.aOff);
  const vecB = (layout === 'nt' ? k : n) % 4 === 0;
  const edge = (x: number) => (x <= 4 ? 4 : x < 16 ? 8 : maxTile);
  const tm = edge(m), tn = edge(n);
  const wg = Math.ceil(m / tm) * Math.ceil(n / tn) < 4 * MATMUL_WG ? 16 : MATMUL_WG;
  // Quads pad tilesN to a multiple of 4 and pay off only when the K loop dominates (measured).
  const quad = Boolean(extra.quad && vecA && Math.ceil(n / tn) >= 16 && k >= 32);
  return { layout, vecA, vecB, vecC: n % 4 === 0 && by4(s.ldc, s.cOff), tm, tn, wg, ...extra, quad };
}

export function matmulWorkgroups(v: MatmulVariant, m: number, n: number): { tilesN: number; tiles: number; workgroups: number } {
  const [tm, tn] = matmulTile(v);
  const tilesN = v.quad ? Math.ceil(n / tn / 4) * 4 : Math.ceil(n / tn), tiles = Math.ceil(m / tm) * tilesN;
  return { tilesN, tiles, workgroups: Math.ceil(tiles / (v.wg ?? MATMUL_WG)) };
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const plus = (k: string, u: number) => (u ? `${k} + ${u}u` : k);

function matmulKernel_(v: MatmulVariant): KernelInstance {
  const [TM, TN] = matmulTile(v);
  const WG = v.wg ?? MATMUL_WG;
  if (TM % 4 || TN % 4) throw new Error('deepfried: matmul tiles must be multiples of 4');
  const aRowMajor = v.layout !== 'tn', bKMajor = v.layout === 'nt';
  const vecA = Boolean(v.vecA), vecB = Boolean(v.vecB), vecC = Boolean(v.vecC), quad = Boolean(v.quad);
  if (quad && (!vecA || (WG & 3))) throw new Error('deepfried: the quad matmul needs vecA and a workgroup size multiple of 4');
  if (v.accumulate && (v.bias || v.relu)) throw new Error('deepfried: an accumulating matmul takes no bias or ReLU');
  const rows = range(TM), qs = range(TN / 4), gs = range(TM / 4), cols = range(TN);

  // Per-invocation base offsets (clamped to the last row/column).
  const setup = [
    ...(aRowMajor && quad
      ? gs.map((g) => `let arq${g} = min(row0 + ${4 * g}u + qi, P.M - 1u) * (P.lda / 4u) + P.aOff / 4u;`)
      : aRowMajor
      ? rows.map((i) => `let ar${i} = min(row0 + ${i}u, P.M - 1u) * ${vecA ? '(P.lda / 4u) + P.aOff / 4u' : 'P.lda + P.aOff'};`)
      : vecA ? gs.map((g) => `let rg${g} = min(row0 / 4u + ${g}u, P.M / 4u - 1u) + P.aOff / 4u;`)
        : rows.map((i) => `let r${i} = min(row0 + ${i}u, P.M - 1u) + P.aOff;`)),
    ...(bKMajor
      ? cols.map((j) => `let bc${j} = min(col0 + ${j}u, P.N - 1u) * ${vecB ? 'P.K / 4u' : 'P.K'};`)
      : vecB ? qs.map((q) => `let cq${q} = min(col0 / 4u + ${q}u, P.N / 4u - 1u);`)
        : cols.map((j) => `let c${j} = min(col0 + ${j}u, P.N - 1u);`)),
  ];

  // One block of `us.length` consecutive k (k, k+1, ...): loads, then TM×TN multiply-adds.
  const block = (us: number[]): string => {
    const lines: string[] = [];
    let A: (i: number, u: number) => string;
    if (aRowMajor && quad) {
      gs.forEach((g) => lines.push(`let al${g} = a[arq${g} + k / 4u];`));
      rows.forEach((i) => lines.push(`let a${i} = quadBroadcast(al${i >> 2}, ${i & 3}u);`));
      A = (i, u) => `a${i}[${u}]`;
    } else if (quad && us.length === KU) {
      gs.forEach((g) => lines.push(`let al${g} = a[(k + qi) * (P.lda / 4u) + rg${g}];`));
      us.forEach((u) => gs.forEach((g) => lines.push(`let a${g}_${u} = quadBroadcast(al${g}, ${u}u);`)));
      A = (i, u) => `a${i >> 2}_${u}[${i & 3}]`;
    } else if (aRowMajor && vecA) {
      rows.forEach((i) => lines.push(`let a${i} = a[ar${i} + k / 4u];`));
      A = (i, u) => `a${i}[${u}]`;
    } else if (aRowMajor) {
      us.forEach((u) => rows.forEach((i) => lines.push(`let a${i}_${u} = a[ar${i} + ${plus('k', u)}];`)));
      A = (i, u) => `a${i}_${u}`;
    } else if (vecA) {
      us.forEach((u) => gs.forEach((g) => lines.push(`let a${g}_${u} = a[(${plus('k', u)}) * (P.lda / 4u) + rg${g}];`)));
      A = (i, u) => `a${i >> 2}_${u}[${i & 3}]`;
    } else {
      us.forEach((u) => rows.forEach((i) => lines.push(`let a${i}_${u} = a[(${plus('k', u)}) * P.lda + r${i}];`)));
      A = (i, u) => `a${i}_${u}`;
    }
    let B: (q: number, u: number) => string;
    if (bKMajor && vecB) {
      cols.forEach((j) => lines.push(`let b${j} = b[bc${j} + k / 4u];`));
      B = (q, u) => `vec4f(${range(4).map((e) => `b${4 * q + e}[${u}]`).join(', ')})`;
    } else if (bKMajor) {
      us.forEach((u) => cols.forEach((j) => lines.push(`let b${j}_${u} = b[bc${j} + ${plus('k', u)}];`)));
      B = (q, u) => `vec4f(${range(4).map((e) => `b${4 * q + e}_${u}`).join(', ')})`;
    } else if (vecB) {
      us.forEach((u) => qs.forEach((q) => lines.push(`let b${q}_${u} = b[(${plus('k', u)}) * (P.N / 4u) + cq${q}];`)));
      B = (q, u) => `b${q}_${u}`;
    } else {
      us.forEach((u) => cols.forEach((j) => lines.push(`let b${j}_${u} = b[(${plus('k', u)}) * P.N + c${j}];`)));
      B = (q, u) => `vec4f(${range(4).map((e) => `b${4 * q + e}_${u}`).join(', ')})`;
    }
    us.forEach((u) => qs.forEach((q) => {
      lines.push(`let bv${q}_${u} = ${B(q, u)};`);
      rows.forEach((i) => lines.push(`acc${i}_${q} += ${A(i, u)} * bv${q}_${u};`));
    }));
    return lines.join('\n    ');
  };
  // With a vec4 operand along K, K is a multiple of 4 and the single-k tail never runs.
  const kVec = (aRowMajor && vecA) || (bKMajor && vecB);

  const put = (at: string, val: string) => (v.accumulate ? `c[${at}] += ${val};` : `c[${at}] = ${val};`);
  const stores = vecC ? rows.flatMap((i) => qs.map((q) => {
    const val = `acc${i}_${q}${v.bias ? ` + bias[col0 / 4u + ${q}u]` : ''}`;
    return `if (row0 + ${i}u < P.M && col0 + ${4 * q}u < P.N) { ${put(`(row0 + ${i}u) * (P.ldc / 4u) + P.cOff / 4u + col0 / 4u + ${q}u`, v.relu ? `max(${val}, vec4f(0.0))` : val)} }`;
  })) : rows.flatMap((i) => qs.flatMap((q) => range(4).map((e) => {
    const col = `col0 + ${4 * q + e}u`;
    const val = `acc${i}_${q}[${e}]${v.bias ? ` + bias[${col}]` : ''}`;
    return `if (row0 + ${i}u < P.M && ${col} < P.N) { ${put(`(row0 + ${i}u) * P.ldc + P.cOff + ${col}`, v.relu ? `max(${val}, 0.0)` : val)} }`;
  })));

  // The quad variant keeps every invocation running (quadBroadcast needs uniform control flow):
  // past the last tile, rows are clamped for loads and masked at the store like any edge.
  const body = `
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u${quad ? ', @builtin(subgroup_invocation_id) sid: u32' : ''}) {
  let t = flatWorkgroup(w, nw) * ${WG}u + l;
  ${quad ? 'let qi = sid & 3u;' : 'if (t >= P.tiles) { return; }'}
  let row0 = (t / P.tilesN) * ${TM}u;
  let col0 = (t % P.tilesN) * ${TN}u;
  ${setup.join('\n  ')}
  ${rows.flatMap((i) => qs.map((q) => `var acc${i}_${q} = vec4f(0.0);`)).join('\n  ')}
  var k = 0u;
  for (; k + ${KU - 1}u < P.K; k += ${KU}u) {
    ${block(range(KU))}
  }
  ${kVec ? '' : `for (; k < P.K; k++) {
    ${block([0])}
  }`}
  ${stores.join('\n  ')}
}`;
  const name = `matmul_${v.layout}${vecA ? '_va' : ''}${vecB ? '_vb' : ''}${vecC ? '_vc' : ''}_${TM}x${TN}_wg${WG}${quad ? '_quad' : ''}${v.bias ? '_bias' : ''}${v.relu ? '_relu' : ''}${v.accumulate ? '_acc' : ''}`;
  const bindings: BindingDecl[] = [
    vecA ? { name: 'a', access: 'read', type: VEC4 } : ro('a'),
    vecB ? { name: 'b', access: 'read', type: VEC4 } : ro('b'),
    ...(v.bias ? [vecC ? { name: 'bias', access: 'read' as const, type: VEC4 } : ro('bias')] : []),
    vecC ? { name: 'c', access: 'read_write', type: VEC4 } : rw('c'),
  ];
  const k = kernel(name, bindings, [['M', 'u32'], ['N', 'u32'], ['K', 'u32'], ['tilesN', 'u32'], ['tiles', 'u32'], ['lda', 'u32'], ['aOff', 'u32'], ['ldc', 'u32'], ['cOff', 'u32']], body);
  return quad ? { ...k, code: `enable subgroups;\n${k.code}` } : k;
}

export const matmulKernel = family('matmul', matmulKernel_);
