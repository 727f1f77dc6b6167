// Rendering: the terminal table, bench/REPORT.md and the Fastfood-vs-dense SVG plot (hand-written).
import { pct } from './context.js';
import { FULL_BUDGET, QUICK_BUDGET } from './stats.js';
import type { BenchResults, Row, Stat } from './types.js';

const ms = (s: Stat | undefined): string => (s ? `${fmt(s.median)} [${fmt(s.min)}–${fmt(s.max)}]` : '-');
function fmt(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  if (x >= 1) return x.toFixed(2);
  return x.toPrecision(2);
}
const rate = (r: { gbps?: number; gflops?: number }): string =>
  [r.gflops !== undefined ? `${fmt(r.gflops)} GFLOP/s` : '', r.gbps !== undefined ? `${fmt(r.gbps)} GB/s` : ''].filter(Boolean).join(', ') || '-';
const frac = (r: Row): string =>
  [r.fracRoofline !== undefined ? `${pct(r.fracRoofline)} roof` : '', r.fracCopy !== undefined ? `${pct(r.fracCopy)} copy` : '',
    r.fracFma !== undefined ? `${pct(r.fracFma)} FMA` : '',
    typeof r.extra?.timesFloor === 'number' ? `${fmt(r.extra.timesFloor)}× floor` : ''].filter(Boolean).join(', ') || '-';
/** How many fractions of this run's rows (ours and the peer's) exceed 1. */
const overFull = (r: BenchResults): number => r.groups.flatMap((g) => g.rows).flatMap((x) => [x.fracRoofline, x.fracCopy, x.fracFma, x.peer?.fracCopy, x.peer?.fracFma])
  .filter((f) => f !== undefined && f > 1).length;
const status = (r: Row): string => (r.status === 'ok' ? 'ok' : r.status === 'error' ? `error: ${r.error}` : r.status === 'skipped' ? '—' : r.status);
const peerCell = (r: Row): string => {
  const p = r.peer;
  if (!p) return '';
  if (p.status !== 'ok') return `${p.status}${p.error ? `: ${p.error}` : ''}`;
  return `${ms(p.wallMs)} ms, ${rate(p)}`;
};

function columns(r: Row): string[] {
  return [r.group, r.op, r.shape, status(r), r.status === 'ok' ? ms(r.gpuMs) : '', r.status === 'ok' ? ms(r.wallMs) : '',
    r.status === 'ok' ? rate(r) : '', r.status === 'ok' ? frac(r) : '', peerCell(r), r.ratio !== undefined ? `${fmt(r.ratio)}×` : ''];
}
const HEAD = ['group', 'op', 'shape', 'status', 'GPU ms med [min–max]', 'wall ms med [min–max]', 'rate', 'fraction of limits', 'tfjs-webgpu (wall)', 'ours ÷ tfjs speed'];

function header(r: BenchResults): string[] {
  const a = r.adapter, b = r.baselines;
  return [
    `adapter: ${a.vendor} / ${a.architecture} / ${a.description} — fallback adapter: ${a.isFallbackAdapter ? 'yes' : 'no'}; timestamp-query: ${a.hasTimestamps ? 'yes' : 'no'}; subgroups: ${a.hasSubgroups ? 'yes' : 'no'}`,
    `runtime: ${r.meta.runtime} (${r.meta.userAgent}); ${r.meta.quick ? 'QUICK run; ' : ''}timing: ${r.meta.timing === 'timestamp' ? 'GPU timestamp queries (plus wall clock)' : 'wall clock'}; ${r.meta.date}; ${r.meta.seconds.toFixed(0)} s`,
    `copy baseline: ${fmt(b.copy.gbps)} GB/s (${b.copy.variant}, read + written bytes; ${b.copyVariants.map((c) => `${c.variant} ${fmt(c.gbps)}`).join(', ')})`,
    `FMA baseline: ${fmt(b.fma.gflops)} GFLOP/s = ${fmt(b.fma.gops)} G FMA/s (${b.fma.variant}; ${b.fmaVariants.map((f) => `${f.variant} ${fmt(f.gflops)}`).join(', ')})`,
  ];
}

export function table(r: BenchResults): string {
  const rows = r.groups.flatMap((g) => (g.rows.length ? g.rows.map(columns) : [[g.name, '', '', g.status === 'error' ? `error: ${g.note}` : g.status, '', '', '', '', '', '']]));
  const all = [HEAD, ...rows];
  const width = HEAD.map((_, i) => Math.min(60, Math.max(...all.map((c) => (c[i] ?? '').length))));
  const line = (c: string[]) => c.map((x, i) => (x.length > width[i]! ? `${x.slice(0, width[i]! - 1)}…` : x.padEnd(width[i]!))).join('  ').trimEnd();
  const out = [...header(r), '', line(HEAD), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), ...trainBlock(r), '', 'targets:'];
  for (const t of r.targets) out.push(`  [${t.status}] ${t.name}${t.value ? `: ${t.value}` : ''}`);
  return out.join('\n');
}

const cell = (s: string): string => s.replace(/\|/g, '\\|');

// ------------------------------------------------------------------ train-step: one table per run
const TRAIN_HEAD = ['net', 'implementation', 'status', 'wall ms/step med [min–max]', 'images/s', 'FLOP/image', 'GFLOP/s', 'fraction of FMA loop', 'GPU memory held', 'ours ÷ this'];

/** Every training configuration of the run, ours (each net) and each peer's (the reference net), as
 * one table: images/s, the step's FLOP per image, achieved GFLOP/s, its fraction of the FMA-loop
 * rate (the probes around our reference row, for the peers) and the GPU memory held. */
function trainTable(rows: Row[]): { head: string[]; rows: string[][] } {
  const flop = (n: unknown): string => (typeof n === 'number' ? `${(n / 1e6).toFixed(2)} M` : '');
  const out: string[][] = [];
  for (const x of rows) {
    const ok = x.status === 'ok', e = x.extra ?? {};
    const model = typeof e.model === 'string' ? e.model : x.shape.replace(/^MNIST (\S+) net.*$/, '$1');
    const perImage = e.flopPerImage ?? (x.flops !== undefined && x.shape.match(/batch (\d+)/) ? x.flops / +x.shape.match(/batch (\d+)/)![1]! : undefined);
    out.push([model, 'ours (compileTrainer)', status(x), ok ? ms(x.wallMs) : '', ok && e.imagesPerSecond !== undefined ? fmt(+e.imagesPerSecond) : '',
      flop(perImage), ok && x.gflops !== undefined ? fmt(x.gflops) : '', ok && x.fracFma !== undefined ? pct(x.fracFma) : '',
      ok && e.gpuBytes !== undefined ? bytes(+e.gpuBytes) : '', '']);
    for (const p of [...(x.peer ? [x.peer] : []), ...(x.peers ?? [])]) {
      const pe = p.extra ?? {}, pok = p.status === 'ok';
      const mem = pe.gpuBytes !== undefined ? `${bytes(+pe.gpuBytes)}${p.name.startsWith('jax-js') ? ' (incl. its buffer pool)' : ''}`
        : /wasm/.test(p.name) ? 'n/a (wasm: CPU memory)' : '';
      out.push([model, p.name, pok ? 'ok' : `${p.status}${p.error ? `: ${p.error}` : ''}`, pok ? ms(p.wallMs) : '',
        pok && pe.imagesPerSecond !== undefined ? fmt(+pe.imagesPerSecond) : '', flop(perImage), pok && p.gflops !== undefined ? fmt(p.gflops) : '',
        pok && p.fracFma !== undefined ? pct(p.fracFma) : '', pok ? mem : '', pok && pe.oursOverThis !== undefined ? `${fmt(+pe.oursOverThis)}×` : '']);
    }
  }
  return { head: TRAIN_HEAD, rows: out };
}

/** What each peer configuration ran on (jax-js: version, wasm threading), one line each. */
function trainPeerNotes(rows: Row[]): string[] {
  return rows.flatMap((x) => x.peers ?? []).filter((p) => p.extra?.runsOn !== undefined)
    .map((p) => `${p.name}${p.extra!.version !== undefined ? ` ${p.extra!.version}` : ''}: ${p.extra!.runsOn}`);
}

/** The training table for the terminal (after the row table), when the run has train-step rows. */
function trainBlock(r: BenchResults): string[] {
  const rows = r.groups.find((g) => g.name === 'train-step')?.rows ?? [];
  if (!rows.length) return [];
  const t = trainTable(rows), all = [t.head, ...t.rows];
  const width = t.head.map((_, i) => Math.min(60, Math.max(...all.map((c) => (c[i] ?? '').length))));
  const line = (c: string[]) => c.map((x, i) => (x.length > width[i]! ? `${x.slice(0, width[i]! - 1)}…` : x.padEnd(width[i]!))).join('  ').trimEnd();
  return ['', 'train-step:', line(t.head), width.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line), ...trainPeerNotes(rows).map((n) => `  ${n}`)];
}

export function markdown(r: BenchResults, svgFile?: string): string {
  const b = r.baselines;
  const budget = r.meta.quick ? QUICK_BUDGET : FULL_BUDGET, over = overFull(r);
  const out: string[] = [
    '# deepfried benchmarks', '',
    `Generated by \`npm run bench${r.meta.quick ? ' -- --quick' : ''}${r.meta.filter ? ` -- --filter ${r.meta.filter}` : ''}\`` +
      ` (\`--runtime ${r.meta.runtime}\`) on ${r.meta.date}, ${r.meta.seconds.toFixed(0)} s. Do not edit by hand.`, '',
    '## Adapter', '',
    `| vendor | architecture | description | fallback | timestamp-query | subgroups |`, `|---|---|---|---|---|---|`,
    `| ${r.adapter.vendor} | ${r.adapter.architecture} | ${r.adapter.description} | ${r.adapter.isFallbackAdapter ? 'yes' : 'no'} | ${r.adapter.hasTimestamps ? 'yes' : 'no'} | ${r.adapter.hasSubgroups ? 'yes' : 'no'} |`, '',
    `Runtime: ${r.meta.runtime} (${r.meta.userAgent}). Peer: tfjs-core + tfjs-backend-webgpu 4.22 on ${r.peerAdapter ?? 'n/a'} in the same process.`, '',
    '## Baselines (this run)', '',
    `Every figure below is also given as a fraction of the adapter's limits, measured in the same run: each of our rows (and the tfjs figures beside it) ` +
      `against a short copy and FMA-loop probe run right before and right after that row (the faster of the two), so that load swings on a shared machine ` +
      `move the op and its baselines together; the run-wide baselines below are the fallback for rows without probes. ` +
      `Times are the median of repeated runs with [min–max]; ${r.meta.timing === 'timestamp' ? 'rates use GPU time from timestamp queries' : 'rates use wall clock (no timestamp queries)'}; ` +
      `ratios against tfjs use wall clock on both sides (each repetition ends in a queue sync); a call whose warm-up took over ` +
      `${budget.slowMs / 1000} s gets ${budget.slowReps} timed repetition${budget.slowReps > 1 ? 's' : ''}, never the warm-up itself (it includes pipeline compilation).` +
      (over ? ` Fractions above 100% mean that the short probes beside that row ran slower than the row itself: ` +
        `the machine's speed swung within the row (${over} such figures in this run); read them as "at the limit", not as the limit exceeded.` : ''), '',
    '| kernel | variant | median ms [min–max] | rate |', '|---|---|---|---|',
    ...b.copyVariants.map((c) => `| copy${c === b.copy ? ' (baseline)' : ''} | ${c.variant} | ${ms(c.ms)} | ${fmt(c.gbps)} GB/s (read + written) |`),
    ...b.fmaVariants.map((f) => `| FMA loop${f === b.fma ? ' (baseline)' : ''} | ${f.variant} | ${ms(f.ms)} | ${fmt(f.gflops)} GFLOP/s = ${fmt(f.gops)} G FMA/s |`),
    '', '## Targets', '', '| target | status | value | detail | why, where not met |', '|---|---|---|---|---|',
    ...r.targets.map((t) => `| ${cell(t.name)} | **${t.status}** | ${cell(t.value ?? '')} | ${cell(t.detail)} | ${cell(t.why ?? '')} |`), '',
  ];
  for (const g of r.groups) {
    out.push(`## ${g.name}`, '', `Status: **${g.status}**${g.note ? ` — ${cell(g.note)}` : ''} (${g.seconds.toFixed(1)} s).`, '');
    const note = NOTES[g.name];
    if (note) out.push(note, '');
    if (!g.rows.length) continue;
    if (g.name === 'train-step') {
      const t = trainTable(g.rows);
      out.push(`| ${t.head.join(' | ')} |`, `|${t.head.map(() => '---').join('|')}|`, ...t.rows.map((c) => `| ${c.map(cell).join(' | ')} |`), '');
      const notes = trainPeerNotes(g.rows);
      if (notes.length) out.push(...notes.map((n) => `- ${n}`), '');
      continue;
    }
    const peer = g.rows.some((x) => x.peer);
    const head = ['op', 'shape', 'status', 'GPU ms', 'wall ms', 'rate', 'fraction of limits', ...(g.name === 'fastfood-vs-dense' ? ['params', 'speed-up / param ratio'] : []), ...(peer ? ['tfjs-webgpu wall ms', 'tfjs rate', 'ours ÷ tfjs'] : [])];
    out.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
    for (const x of g.rows) {
      const ok = x.status === 'ok';
      const c = [x.op, x.shape, status(x), ok ? ms(x.gpuMs) : '', ok ? ms(x.wallMs) : '', ok ? rate(x) : '', ok ? frac(x) : ''];
      if (g.name === 'fastfood-vs-dense') {
        c.push(x.paramBytes ? bytes(x.paramBytes) : '', [x.extra?.speedupVsDense !== undefined ? `${fmt(+x.extra.speedupVsDense)}× faster` : '', x.extra?.paramRatio !== undefined ? `${fmt(+x.extra.paramRatio)}× fewer bytes` : ''].filter(Boolean).join(', '));
      }
      if (peer) {
        const p = x.peer;
        c.push(p ? (p.status === 'ok' ? ms(p.wallMs) : `${p.status}${p.error ? `: ${p.error}` : ''}`) : '', p && p.status === 'ok' ? rate(p) + (p.fracFma !== undefined ? ` (${pct(p.fracFma)} FMA)` : p.fracCopy !== undefined ? ` (${pct(p.fracCopy)} copy)` : '') : '', x.ratio !== undefined ? `${fmt(x.ratio)}×` : '');
      }
      out.push(`| ${c.map(cell).join(' | ')} |`);
    }
    if (g.name === 'fastfood-vs-dense' && svgFile) out.push('', `![Fastfood vs dense time across d](${svgFile})`);
    out.push('');
  }
  return out.join('\n');
}

function bytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 2 ** 10).toFixed(1)} KiB`;
}

const NOTES: Record<string, string> = {
  fwht: 'Bytes = x read + y written. Roofline ops per row = d·log2 d adds + d scaling multiplies.',
  fastfood: 'Bytes = x read + y written + parameters (B, G, S, Π) once. Roofline ops per row and block: forward 2·d·log2 d + 3·d; ' +
    'backward (recompute a3, a5, two more FWHTs, three diagonal products and the dB, dG, dS products) 2·(2·d·log2 d + 3·d) + 3·d; backward bytes = x, dy read + dx written + parameters + dB, dG, dS. ' +
    'Roofline bound = max(bytes ÷ copy bandwidth, ops ÷ FMA op rate), an FMA counting as one op; the fraction is bound ÷ measured time.',
  'train-step': 'One SGD step (forward, loss, backward, update) of each MNIST net at batch 64, ours through the graph scheduler (compileTrainer). ' +
    'Peers on the reference net (no Fastfood): tfjs-core + tfjs-backend-webgpu (optimizer.minimize), and jax-js (valueAndGrad + SGD update per call) ' +
    'jitted on its WebGPU backend (its own device on the same adapter) and eager and jitted on its wasm backend; a configuration that cannot run here is listed as unavailable, with the reason. ' +
    'Every side is timed by the same rules (bench/lib/measure.ts: a warm-up, a second one when the first was cheap, repetitions within the budget, each ending in a sync; wall clock). ' +
    'FLOP/image (bench/groups/train.ts stepFlopsPerImage): for every conv and linear layer the forward product and the two backward products dX and dW, ' +
    'each 2·Cout·Ho·Wo·Cin·kh·kw (conv) or 2·in·out (linear), a multiply-add counting 2, without dX for the first layer; Fastfood per block 2·d·log2 d + 3·d forward, the same for dX, 6·d for dW (adaptive); ' +
    'biases, ReLU, pooling, the loss and the update are not counted. GFLOP/s = FLOP/image × images/s; its fraction is of the FMA loop (a 100 ms probe) run right before every timed repetition of our row of that net and after the last, the median of those samples (not the faster of a before/after pair as elsewhere: a step takes seconds on a CPU adapter, and a loaded machine swings within that); the peers\' fractions are of the reference row\'s. ' +
    'GPU memory held: ours, every buffer the model and its compiled step hold while training (parameters, gradients, optimizer state, activations, staging), from the runtime\'s own count, pool excluded; ' +
    'tfjs, its backend\'s bytes in use (numBytesInGPU) over the step; jax-js WebGPU, the GPU buffers it created and has not destroyed from its parameters to the last step, its buffer pool included (it hands nothing below 64 MiB back to the device).',
  'fastfood-vs-dense': 'Forward only. Speed-up = dense wall time ÷ Fastfood wall time. Parameter memory: Fastfood B, G, S (f32) and Π (u32) per block; dense W and b. ' +
    'Dense is skipped ("over device limit") when W is larger than maxStorageBufferBindingSize. ' +
    'The ImageNet rows (d = twice what workgroup memory holds) have two Fastfood forward paths: "fastfood" is the one this adapter takes by default ' +
    '(fused split rows on CPU adapters, multi-pass elsewhere), "fastfood (multi-pass)" or "fastfood (split rows)" the other, timed so that a new adapter shows which is faster.',
  conv: 'FLOP = 2·N·Cout·Ho·Wo·Cin·kh·kw forward, twice that for the backward (dx + dw). tfjs runs NHWC (inputs laid out before timing); its forward is tf.fused.conv2d with bias, ' +
    'its backward the Conv2DBackpropInput and Conv2DBackpropFilter kernels plus a sum for db. The "tfjs only" rows time tfjs\'s dx and dw kernels alone.',
  pool: 'Bytes: forward x read + y written; backward x, dy read + dx written. tfjs backward is its MaxPoolGrad kernel.',
  linear: 'FLOP = 2·N·in·out forward, twice that backward. tfjs: fused matMul with bias; backward two matMuls and a sum.',
  overhead: 'Eager-op overhead: wall time per op, caches warm (pipelines compiled, buffers pooled), GPU timer off. ' +
    '"eager" rows are the public API (`rt.relu` chained 300 times, read once at the end; `await rt.conv2d(x, w, b).read()` per call). ' +
    'The "floor" rows record the same dispatches with one `rt.record` call (300 encodeRelu dispatches over two caller tensors; one encodeConv2d) ' +
    'into a caller-owned encoder, copy the result to a MAP_READ buffer, submit and map it: the least a caller pays for the same work and the same answer on the host. ' +
    '"rt.record per op" records each relu with its own `rt.record` call into the same encoder (a uniform buffer and a compute pass each). ' +
    'The variants alternate within each repetition; "× floor" is the median over repetitions of (variant ÷ floor in that repetition).',
};

/** Log-log plot of Fastfood and dense forward time (wall clock) against d, square shapes only. */
export function svg(r: BenchResults): string | null {
  const rows = r.groups.find((g) => g.name === 'fastfood-vs-dense')?.rows ?? [];
  const series = (op: string) => rows.filter((x) => x.op === op && x.status === 'ok' && x.extra && x.extra.inFeatures === x.extra.outFeatures)
    .map((x) => ({ d: +x.extra!.d!, ms: x.wallMs!.median }));
  const ff = series('fastfood'), dn = series('dense');
  if (!ff.length && !dn.length) return null;
  const W = 560, H = 360, L = 70, R = 20, T = 40, B = 50;
  const all = [...ff, ...dn];
  const dMin = Math.min(...all.map((p) => p.d)), dMax = Math.max(...all.map((p) => p.d));
  const lo = Math.floor(Math.log10(Math.min(...all.map((p) => p.ms)))), hi = Math.ceil(Math.log10(Math.max(...all.map((p) => p.ms))));
  const x = (d: number) => L + (dMax === dMin ? 0.5 : (Math.log2(d) - Math.log2(dMin)) / (Math.log2(dMax) - Math.log2(dMin))) * (W - L - R);
  const y = (v: number) => T + (1 - (Math.log10(v) - lo) / Math.max(1, hi - lo)) * (H - T - B);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">Fastfood vs dense forward, batch ${rows[0]?.extra?.batch ?? ''} (${r.adapter.description})</text>`,
  ];
  for (let e = lo; e <= hi; e++) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(10 ** e)}" y2="${y(10 ** e)}" stroke="#ddd"/>`,
      `<text x="${L - 6}" y="${y(10 ** e) + 4}" text-anchor="end">${10 ** e >= 1 ? 10 ** e : (10 ** e).toPrecision(1)} ms</text>`);
  }
  for (const d of [...new Set(all.map((p) => p.d))].sort((a, b) => a - b)) {
    parts.push(`<line x1="${x(d)}" x2="${x(d)}" y1="${T}" y2="${H - B}" stroke="#eee"/>`, `<text x="${x(d)}" y="${H - B + 16}" text-anchor="middle">${d}</text>`);
  }
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">d (in = out features)</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`);
  const line = (pts: { d: number; ms: number }[], color: string, label: string, k: number) => {
    if (!pts.length) return;
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${x(p.d).toFixed(1)},${y(p.ms).toFixed(1)}`).join(' ')}"/>`,
      ...pts.map((p) => `<circle cx="${x(p.d).toFixed(1)}" cy="${y(p.ms).toFixed(1)}" r="3.5" fill="${color}"><title>${label} d=${p.d}: ${fmt(p.ms)} ms</title></circle>`),
      `<rect x="${L + 12}" y="${T + 6 + 18 * k}" width="12" height="12" fill="${color}"/><text x="${L + 30}" y="${T + 16 + 18 * k}">${label}</text>`);
  };
  line(dn, '#d62728', 'dense (rt.linear)', 0);
  line(ff, '#1f77b4', 'Fastfood (rt.fastfood)', 1);
  parts.push('</svg>');
  return parts.join('\n');
}
