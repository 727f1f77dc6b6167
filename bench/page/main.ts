// The benchmark page (bench/page/index.html; `npm run bench -- --serve`, or the static build of
// bench/page/build.ts): runs the suite of `npm run bench` (bench/lib/suite.ts, unchanged) on this
// browser's WebGPU adapter, shows its progress per group and row, then a bar chart per group, the
// report (bench/lib/report.ts's markdown as HTML, with its SVG plot) and the JSON to download, the
// same JSON as `npm run bench -- --json FILE`.
import uPlot from 'uplot';
import { markdown, svg } from '../lib/report.js';
import { GROUPS, runSuite, selectGroups } from '../lib/suite.js';
import type { BenchResults, GroupResult, SuiteOptions } from '../lib/types.js';
import { markdownToHtml } from './markdown.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** What a test (or a curious reader of the console) can watch: window.__deepfriedBenchPage. */
const state = {
  phase: 'loading' as 'loading' | 'ready' | 'no-webgpu' | 'running' | 'done' | 'error',
  error: undefined as string | undefined,
  groups: 0, groupsDone: 0, rows: 0,
};
(globalThis as Record<string, unknown>).__deepfriedBenchPage = state;

const status = (s: string) => { $('status').textContent = s; };
const quick = $<HTMLInputElement>('quick'), filter = $<HTMLInputElement>('filter'), start = $<HTMLButtonElement>('start');

// Options: the form, prefilled from the address (?quick=1&filter=overhead) so that a run can be linked.
const query = new URLSearchParams(location.search);
quick.checked = /^(1|true|yes|on)$/i.test(query.get('quick') ?? '');
filter.value = query.get('filter') ?? '';
for (const g of GROUPS) $('groups').append(new Option(g.name));

if (!('gpu' in navigator) || !navigator.gpu) {
  state.phase = 'no-webgpu';
  $('support').className = 'bad';
  $('support').textContent = 'This browser has no WebGPU (navigator.gpu is missing), so the benchmark cannot run here. ' +
    (window.isSecureContext ? 'Use a browser with WebGPU enabled (Chrome or Edge 113+, Safari 26+, Firefox 141+ on Windows).'
      : 'WebGPU needs a secure context: open the page over https or from localhost / 127.0.0.1.');
  status('no WebGPU');
} else {
  state.phase = 'ready';
  start.disabled = false;
  status('ready');
}

/** One collapsible block of the progress list: the setup, each group, the closing baselines. */
interface Block { el: HTMLDetailsElement; summary: HTMLElement; pre: HTMLElement; name: string; group: boolean; rows: number; t0: number; done: boolean; failed: boolean }

function block(name: string, group: boolean): Block {
  const el = document.createElement('details'), summary = document.createElement('summary'), pre = document.createElement('pre');
  el.className = 'group';
  el.dataset.name = name;
  el.dataset.state = 'waiting';
  el.append(summary, pre);
  $('progress').append(el);
  const b: Block = { el, summary, pre, name, group, rows: 0, t0: 0, done: false, failed: false };
  label(b);
  return b;
}

function label(b: Block): void {
  const s = b.el.dataset.state, secs = ((performance.now() - b.t0) / 1000).toFixed(1);
  const rows = b.group ? `${b.rows} row${b.rows === 1 ? '' : 's'}` : '';
  b.summary.textContent = `${b.name}: ${s === 'waiting' ? 'waiting'
    : s === 'running' ? `running… ${rows}${rows ? ' done, ' : ''}${secs} s`
    : `${s}${rows ? `, ${rows}` : ''} in ${secs} s`}`;
}

start.onclick = async () => {
  if (state.phase === 'running' || state.phase === 'no-webgpu') return;
  const opts: SuiteOptions = { quick: quick.checked, filter: filter.value.trim() || undefined, runtime: 'chrome' };
  const groups = selectGroups(opts.filter);
  if (!groups.length) {
    status(`no benchmark group matches "${opts.filter}" (groups: ${GROUPS.map((g) => g.name).join(', ')})`);
    return;
  }
  Object.assign(state, { phase: 'running', error: undefined, groups: groups.length, groupsDone: 0, rows: 0 });
  start.disabled = quick.disabled = filter.disabled = true;
  $('results').hidden = true;
  $('progress').replaceChildren();
  const bar = $<HTMLProgressElement>('bar');
  bar.max = groups.length + 2;
  bar.value = 0;
  const blocks = new Map<string, Block>([['setup', block('adapter, baselines, peer', false)], ...groups.map((g): [string, Block] => [g.name, block(g.name, true)]),
    ['end', block('baselines again (end of run)', false)]]);
  let current = blocks.get('setup')!;
  const enter = (b: Block) => {
    b.t0 = performance.now();
    b.el.dataset.state = 'running';
    b.el.open = true;
    label(b);
  };
  const leave = (b: Block) => {
    if (b.done) return;
    b.done = true;
    b.el.dataset.state = b.failed ? 'error' : 'done';
    b.el.open = b.failed;
    label(b);
    bar.value++;
    if (b.group) state.groupsDone++;
  };
  enter(current);
  const tick = setInterval(() => label(current), 500);
  const t0 = performance.now();
  const log = (line: string) => {
    console.log(line);
    const g = /^\[(.+)\]$/.exec(line)?.[1];
    const next = g !== undefined ? blocks.get(g) : line.startsWith('baselines again') ? blocks.get('end') : undefined;
    if (next) {
      leave(current);
      enter(current = next);
      status(`running ${current.name} (${state.groupsDone + 1} of ${groups.length})`);
      return;
    }
    current.pre.textContent += `${line}\n`;
    if (current.group && /^ {2}\S/.test(line)) {
      if (line.startsWith('  group failed:')) current.failed = true;
      else { current.rows++; state.rows++; }
    }
    label(current);
  };
  try {
    status('starting…');
    const results = await runSuite(opts, log);
    leave(current);
    for (const g of results.groups) {
      const b = blocks.get(g.name);
      if (b) { b.el.dataset.state = g.status; label(b); }
    }
    show(results);
    state.phase = 'done';
    status(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  } catch (e) {
    state.phase = 'error';
    state.error = e instanceof Error ? e.message : String(e);
    current.failed = true;
    leave(current);
    status(`error: ${state.error}`);
    console.error(e);
  } finally {
    clearInterval(tick);
    start.disabled = quick.disabled = filter.disabled = false;
  }
};

let urls: string[] = [];

/** The results: JSON download, a bar chart per group, the report. */
function show(r: BenchResults): void {
  for (const u of urls) URL.revokeObjectURL(u); // the previous run's
  urls = [];
  const blob = (text: string, type: string) => { const u = URL.createObjectURL(new Blob([text], { type })); urls.push(u); return u; };
  const a = $<HTMLAnchorElement>('download');
  // byte for byte what run.ts writes for --json
  a.href = blob(`${JSON.stringify(r, null, 2)}\n`, 'application/json');
  a.download = `deepfried-bench-${r.meta.date.slice(0, 19).replace(/[:T]/g, '-')}${r.meta.quick ? '-quick' : ''}.json`;
  $('results').hidden = false;
  $('plots').replaceChildren(...r.groups.map(groupPlot).filter((p): p is HTMLElement => !!p));
  const plot = svg(r);
  $('report').innerHTML = markdownToHtml(markdown(r, plot ? blob(plot, 'image/svg+xml') : undefined));
}

/** Bars of our wall-clock median per row (and the peer's beside it, where the group has one). */
function groupPlot(g: GroupResult): HTMLElement | null {
  const rows = g.rows.filter((x) => x.status === 'ok' && x.wallMs);
  if (!rows.length) return null;
  const xs = rows.map((_, i) => i + 1), ours = rows.map((x) => x.wallMs!.median);
  const peer = rows.map((x) => (x.peer?.status === 'ok' && x.peer.wallMs ? x.peer.wallMs.median : null));
  const peerName = rows.find((x) => x.peer)?.peer?.name ?? 'peer';
  const hasPeer = peer.some((v) => v !== null);
  const bars = (align: -1 | 0 | 1) => uPlot.paths.bars!({ size: [hasPeer ? 0.4 : 0.7, 60], align });
  const series: uPlot.Series[] = [{ label: 'row' },
    { label: 'deepfried ms', fill: '#1f77b4', stroke: '#1f77b4', paths: bars(hasPeer ? -1 : 0), points: { show: false } }];
  if (hasPeer) series.push({ label: `${peerName} ms`, fill: '#d62728', stroke: '#d62728', paths: bars(1), points: { show: false } });
  const top = Math.max(...ours, ...peer.map((v) => v ?? 0));
  const wrap = document.createElement('div');
  wrap.className = 'plot';
  wrap.dataset.group = g.name;
  new uPlot({
    title: `${g.name}: wall ms per call`, width: 560, height: 260,
    scales: { x: { time: false, range: [0.5, rows.length + 0.5] }, y: { range: [0, top > 0 ? top * 1.1 : 1] } },
    axes: [{ splits: () => xs, values: (_u, v) => v.map((x) => String(x)) }, { size: 60 }],
    series,
  }, hasPeer ? [xs, ours, peer] : [xs, ours], wrap);
  const list = document.createElement('ol');
  for (const x of rows) list.append(Object.assign(document.createElement('li'), { textContent: `${x.op} — ${x.shape}${x.ratio !== undefined ? ` (ours ÷ ${peerName} speed ${x.ratio.toFixed(2)}×)` : ''}` }));
  wrap.append(list);
  return wrap;
}
