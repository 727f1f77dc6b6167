// Soak test of the demo page (issue 15 item 5): drives examples/demo.html in headless Chromium for
// --minutes, cycling through start training → stop part-way → (next model) → load a checkpoint
// through #load → draw a digit and predict, and samples memory once a minute:
//   - the page's JS heap after a forced GC (CDP HeapProfiler.collectGarbage, then page.metrics()
//     JSHeapUsedSize), with its DOM node and event-listener counts;
//   - the runtime's rt.stats() (liveBuffers, liveBytes, pooledBytes) through `__demo.stats()`;
//   - WebGPU's own count of buffers created and not destroyed (GPUDevice.prototype.createBuffer and
//     GPUBuffer.prototype.destroy wrapped before the page loads), independent of the runtime's books.
// Two heap snapshots (at minute --from and at the end) are summarised per constructor and their
// difference is reported: what the heap gained, if it grew. Writes bench/soak.json (samples,
// per-cycle figures, the heap difference, verdict). Not part of `npm test`.
//
//   npx tsx bench/soak.ts [--minutes 20] [--from 3] [--limit 1280] [--json bench/soak.json]
//                         [--checkpoint results/mnist/reference.safetensors] [--no-hook] [--no-census]
//
// Verdict: each figure's last sample against its sample at minute --from (the first sample at or
// after it): flat when it grew by at most 10% or at most 5 MB; the slope per minute is the least-
// squares fit over the samples from that minute on.
//
// `__demo.stats()`: examples/demo-page.ts does not expose its runtime, so by default this script
// serves the page bundled with one line appended to examples/demo-page.ts (it does not change the
// file): `(globalThis as any).__demo.stats ??= () => rt?.stats() ?? null;`. With --no-hook it serves
// the page exactly as `npm run demo` does (then only WebGPU's own buffer count is there, unless the
// page defines __demo.stats itself).
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import * as esbuild from 'esbuild';
import type { CDPSession, ElementHandle, Page } from 'puppeteer';
import { launchChrome } from '../examples/chrome.js';
import { serveDemo } from '../examples/demo.js';
import { parseCli } from '../examples/args.js';
import { mnistDir } from '../src/data/mnist.js';

const HELP = `usage: npx tsx bench/soak.ts [options]
  --minutes N        how long to cycle (default 20)
  --from N           the minute whose sample the verdict compares the last one with (default 3)
  --limit N          training images the page trains on (#limit; default 1280 = 20 steps of 64)
  --checkpoint FILE  the safetensors file loaded through #load each cycle (default results/mnist/reference.safetensors)
  --json FILE        results (default bench/soak.json)
  --no-hook          serve the page exactly as npm run demo does (no __demo.stats() added)
  --no-census        skip the two heap snapshots (at --from and at the end) whose difference is reported
  --help`;

const MB = 2 ** 20;

interface GpuStats { liveBuffers: number; liveBytes: number; pooledBuffers: number; pooledBytes: number; pipelines: number; queued: number }
/** WebGPU's own figures, from the wrapped createBuffer/destroy. */
interface WebGpuCount { created: number; destroyed: number; liveBuffers: number; liveBytes: number; collectedUndestroyed: number; devices: number }

interface Sample {
  minute: number;
  seconds: number;
  cycles: number;
  heapUsedMB: number;
  heapTotalMB: number;
  domNodes: number;
  listeners: number;
  gpuLiveBuffers: number | null;
  gpuLiveMB: number | null;
  gpuPooledMB: number | null;
  webgpuLiveBuffers: number;
  webgpuLiveMB: number;
  webgpuCollectedUndestroyed: number;
}

interface Cycle {
  n: number;
  model: string;
  seconds: number;
  /** How training ended: 'stopped' (the Stop button part-way) or 'done'. */
  training: string;
  stepAtStop: string;
  loaded: string;
  prediction: string;
  /** rt.stats() (or WebGPU's count) after each phase: MB live / MB pooled / buffers. */
  gpu: Record<string, string>;
  heapUsedMB: number;
}

// Runs in the page before its scripts: counts every GPU buffer created and destroyed.
function instrumentWebGpu(): void {
  const w = globalThis as unknown as Record<string, unknown>;
  const c = { created: 0, destroyed: 0, liveBuffers: 0, liveBytes: 0, collectedUndestroyed: 0, devices: 0 };
  w.__soakWebGpu = c;
  if (typeof GPUDevice === 'undefined') return;
  const live = new Map<number, number>(); // id → size of buffers not yet destroyed
  const ids = new WeakMap<GPUBuffer, number>();
  let next = 0;
  const gone = new FinalizationRegistry<number>((id) => {
    const size = live.get(id);
    if (size === undefined) return;
    live.delete(id);
    c.collectedUndestroyed++;
    c.liveBuffers--; c.liveBytes -= size;
  });
  const create = GPUDevice.prototype.createBuffer;
  GPUDevice.prototype.createBuffer = function (this: GPUDevice, desc: GPUBufferDescriptor): GPUBuffer {
    const b = create.call(this, desc);
    const id = next++;
    ids.set(b, id); live.set(id, b.size); gone.register(b, id);
    c.created++; c.liveBuffers++; c.liveBytes += b.size;
    return b;
  };
  const destroy = GPUBuffer.prototype.destroy;
  GPUBuffer.prototype.destroy = function (this: GPUBuffer): undefined {
    const id = ids.get(this);
    const size = id === undefined ? undefined : live.get(id);
    if (id !== undefined && size !== undefined) { live.delete(id); c.destroyed++; c.liveBuffers--; c.liveBytes -= size; }
    return destroy.call(this);
  };
  const request = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = function (this: GPUAdapter, d?: GPUDeviceDescriptor): Promise<GPUDevice> {
    c.devices++;
    return request.call(this, d);
  };
}

/** The demo page as `npm run demo` serves it, with `__demo.stats()` appended to its module. */
async function serveDemoWithHook(): Promise<{ url: string; close(): Promise<void> }> {
  const entry = resolve('examples/demo-page.ts');
  const hook = '\n;(globalThis as any).__demo.stats ??= () => rt?.stats() ?? null;\n';
  const built = await esbuild.build({
    entryPoints: [entry], bundle: true, format: 'esm', platform: 'browser', target: 'es2022',
    write: false, logLevel: 'silent', external: ['webgpu', 'node:*'],
    plugins: [{
      name: 'soak-hook',
      setup(b) {
        b.onLoad({ filter: /examples[\\/]demo-page\.ts$/ }, async (a) => ({ contents: (await readFile(a.path, 'utf8')) + hook, loader: 'ts' }));
      },
    }],
  });
  const js = built.outputFiles[0]!.text;
  const html = await readFile('examples/demo.html', 'utf8');
  const dir = await mnistDir();
  const files: Record<string, string> = { '/uplot.css': 'node_modules/uplot/dist/uPlot.min.css' };
  for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) files[`/mnist/${f}`] = `${dir}/${f}`;
  const server: Server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const send = (type: string, body: string | Buffer) => res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    try {
      if (path === '/' || path === '/index.html') return send('text/html', html);
      if (path === '/app.js') return send('text/javascript', js);
      if (path === '/favicon.ico') return void res.writeHead(204).end();
      const file = files[path];
      if (file) return send(path.endsWith('.css') ? 'text/css' : 'application/octet-stream', await readFile(file));
      res.writeHead(404).end('not found');
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  await new Promise<void>((r, j) => { server.once('error', j); server.listen(0, '127.0.0.1', r); });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

async function gpuStats(page: Page): Promise<{ rt: GpuStats | null; webgpu: WebGpuCount }> {
  return page.evaluate(() => {
    const g = globalThis as unknown as { __demo: { stats?: () => unknown }; __soakWebGpu: unknown };
    return {
      rt: (typeof g.__demo.stats === 'function' ? g.__demo.stats() : null) as GpuStats | null,
      webgpu: { ...(g.__soakWebGpu as WebGpuCount) },
    };
  });
}

function gpuLine(s: { rt: GpuStats | null; webgpu: WebGpuCount }): string {
  if (s.rt) return `${round(s.rt.liveBytes / MB)}/${round(s.rt.pooledBytes / MB)}/${s.rt.liveBuffers}`;
  return `webgpu ${round(s.webgpu.liveBytes / MB)}/-/${s.webgpu.liveBuffers}`;
}

/** A full GC in the page, then its heap: V8's own (Runtime.getHeapUsage) and page.metrics(). */
async function heap(page: Page, cdp: CDPSession): Promise<{ used: number; total: number; nodes: number; listeners: number }> {
  await cdp.send('HeapProfiler.collectGarbage');
  await new Promise((r) => setTimeout(r, 200)); // FinalizationRegistry callbacks run after the GC
  await cdp.send('HeapProfiler.collectGarbage');
  const m = await page.metrics();
  return { used: m.JSHeapUsedSize ?? NaN, total: m.JSHeapTotalSize ?? NaN, nodes: m.Nodes ?? NaN, listeners: m.JSEventListeners ?? NaN };
}

type Census = Map<string, { count: number; bytes: number }>;

/** A heap snapshot of the page (V8 collects garbage first), summarised: objects and their own
 * bytes per constructor or name (objects, closures, native objects, code) or per node type (strings, …). */
async function heapCensus(cdp: CDPSession): Promise<Census> {
  const chunks: string[] = [];
  const onChunk = (e: { chunk: string }) => { chunks.push(e.chunk); };
  cdp.on('HeapProfiler.addHeapSnapshotChunk', onChunk);
  try {
    await cdp.send('HeapProfiler.enable');
    await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  } finally {
    cdp.off('HeapProfiler.addHeapSnapshotChunk', onChunk);
  }
  const snap = JSON.parse(chunks.join('')) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] };
  const fields = snap.snapshot.meta.node_fields, types = snap.snapshot.meta.node_types[0];
  const nf = fields.length, iType = fields.indexOf('type'), iName = fields.indexOf('name'), iSize = fields.indexOf('self_size');
  const out: Census = new Map();
  for (let i = 0; i < snap.nodes.length; i += nf) {
    const type = types[snap.nodes[i + iType]!] ?? '?';
    const key = type === 'object' || type === 'closure' || type === 'native' || type === 'code' ? `${type} ${snap.strings[snap.nodes[i + iName]!]!.slice(0, 60)}` : `(${type})`;
    const c = out.get(key) ?? { count: 0, bytes: 0 };
    c.count++; c.bytes += snap.nodes[i + iSize]!;
    out.set(key, c);
  }
  return out;
}

/** What grew between two censuses: the top `n` by bytes. */
function censusDiff(a: Census, b: Census, n = 15): { what: string; count: number; bytes: number }[] {
  const rows = [...b].map(([what, v]) => ({ what, count: v.count - (a.get(what)?.count ?? 0), bytes: v.bytes - (a.get(what)?.bytes ?? 0) }));
  return rows.filter((r) => r.bytes > 0 || r.count > 0).sort((x, y) => y.bytes - x.bytes).slice(0, n);
}

type DemoState = { running: boolean; predictions: number; stats?: () => unknown };
const demo = (page: Page) => page.evaluate(() => {
  const d = (globalThis as unknown as { __demo: DemoState }).__demo;
  return { running: d.running, predictions: d.predictions };
});

/** Waits until `ready` (evaluated in the page with `arg`) holds; the page's status turning to
 * "error: …" fails it. (A predicate that throws is not a failure to waitForFunction: it retries.) */
async function waitFor(page: Page, what: string, ready: (arg: number) => boolean, arg: number, timeout: number): Promise<void> {
  const h = await page.waitForFunction((src: string, a: number) => {
    const st = document.getElementById('status')?.textContent ?? '';
    if (st.startsWith('error')) return st;
    return (0, eval)(src)(a) ? 'ok' : false;
  }, { timeout, polling: 100 }, `(${ready.toString()})`, arg);
  const r = await h.jsonValue();
  await h.dispose();
  if (r !== 'ok') throw new Error(`${what}: the demo page says "${r}"`);
}

/** One cycle: select `model`, train (stopped at its first progress report unless `complete`), wait
 * for the page's own prediction after training, load the checkpoint (and its prediction), draw a
 * digit (a stroke that varies with n) and wait for its prediction. */
async function cycle(page: Page, n: number, model: string, checkpoint: string, complete: boolean): Promise<Omit<Cycle, 'heapUsedMB' | 'seconds'>> {
  const gpu: Record<string, string> = {};
  await page.select('#model', model);
  await page.$eval('#step', (e) => { e.textContent = '–'; });
  await page.$eval('#status', (e) => { e.textContent = 'soak: starting'; });
  let p = (await demo(page)).predictions;
  await page.click('#start');
  let stepAtStop = '';
  if (!complete) {
    // the first progress report (every 5 steps) shows "step / steps" in #step: stop there
    await waitFor(page, `cycle ${n}: training ${model}`, () => /^\d+ \/ \d+$/.test(document.getElementById('step')?.textContent ?? '')
      || !(globalThis as unknown as { __demo: DemoState }).__demo.running, 0, 600_000);
    stepAtStop = await page.$eval('#step', (e) => e.textContent ?? '');
    gpu.training = gpuLine(await gpuStats(page));
    await page.click('#stop');
  }
  // training ends (status stopped/done), then the page predicts the drawing with the new model;
  // loading a checkpoint before that prediction is through races it (see docs/benchmarks.md, Soak)
  await waitFor(page, `cycle ${n}: training ${model}`, (b: number) => {
    const d = (globalThis as unknown as { __demo: DemoState }).__demo;
    return !d.running && d.predictions > b;
  }, p, 600_000);
  const training = await page.$eval('#status', (e) => e.textContent ?? '');
  if (training !== 'stopped' && training !== 'done') throw new Error(`cycle ${n}: training ended with status "${training}"`);
  gpu.trained = gpuLine(await gpuStats(page));

  await page.$eval('#status', (e) => { e.textContent = 'soak: loading'; });
  await page.$eval('#load', (e) => { (e as HTMLInputElement).value = ''; });
  p = (await demo(page)).predictions;
  const input = (await page.$('#load')) as ElementHandle<HTMLInputElement>;
  await input.uploadFile(checkpoint);
  await input.dispose();
  await waitFor(page, `cycle ${n}: loading ${checkpoint}`, (b: number) => (document.getElementById('status')?.textContent ?? '').startsWith('loaded')
    && (globalThis as unknown as { __demo: DemoState }).__demo.predictions > b, p, 120_000);
  const loaded = await page.$eval('#status', (e) => e.textContent ?? '');
  gpu.loaded = gpuLine(await gpuStats(page));

  await page.click('#clear');
  const canvas = (await page.$('#draw'))!;
  const box = (await canvas.boundingBox())!;
  await canvas.dispose();
  const x = 70 + (n % 5) * 12;
  p = (await demo(page)).predictions;
  await page.mouse.move(box.x + x, box.y + 30);
  await page.mouse.down();
  for (let y = 30; y <= 170; y += 10) await page.mouse.move(box.x + x + (n % 2 ? (y - 30) / 5 : 0), box.y + y);
  await page.mouse.up();
  await waitFor(page, `cycle ${n}: predicting a drawing`, (b: number) => (globalThis as unknown as { __demo: DemoState }).__demo.predictions > b, p, 60_000);
  const prediction = await page.$eval('#guess', (e) => e.textContent ?? '');
  if (!/^\d$/.test(prediction)) throw new Error(`cycle ${n}: no prediction ("${prediction}")`);
  gpu.predicted = gpuLine(await gpuStats(page));
  return { n, model, training, stepAtStop, loaded, prediction, gpu };
}

interface Trend { from: number; last: number; growth: number; growthPct: number; slopePerMinute: number; flat: boolean }

function trend(samples: Sample[], key: keyof Sample, fromMinute: number): Trend | null {
  const pts = samples.filter((s) => s.minute >= fromMinute && typeof s[key] === 'number') as (Sample & Record<string, number>)[];
  if (pts.length < 2) return null;
  const xs = pts.map((s) => s.seconds / 60), ys = pts.map((s) => s[key] as number);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length, my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let sxy = 0, sxx = 0;
  for (let i = 0; i < xs.length; i++) { sxy += (xs[i]! - mx) * (ys[i]! - my); sxx += (xs[i]! - mx) ** 2; }
  const from = ys[0]!, last = ys.at(-1)!, growth = last - from;
  const growthPct = from > 0 ? (100 * growth) / from : growth > 0 ? Infinity : 0;
  return { from, last, growth: round(growth, 3), growthPct: round(growthPct, 1), slopePerMinute: round(sxx ? sxy / sxx : 0, 4), flat: growth <= 5 || growthPct <= 10 };
}

async function main(): Promise<void> {
  const { values } = parseCli({
    options: {
      minutes: { type: 'string', default: '20' }, from: { type: 'string', default: '3' }, limit: { type: 'string', default: '1280' },
      checkpoint: { type: 'string', default: 'results/mnist/reference.safetensors' }, json: { type: 'string', default: 'bench/soak.json' },
      'no-hook': { type: 'boolean', default: false }, 'no-census': { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) { console.log(HELP); return; }
  const minutes = Number(values.minutes), fromMinute = Number(values.from), limit = Number(values.limit);
  if (!(minutes > 0)) throw new Error(`--minutes must be positive, got ${values.minutes}`);
  if (!(fromMinute >= 0)) throw new Error(`--from must be ≥ 0, got ${values.from}`);
  if (!(Number.isInteger(limit) && limit >= 64)) throw new Error(`--limit must be an integer ≥ 64, got ${values.limit}`);

  const served = values['no-hook'] ? await serveDemo() : await serveDemoWithHook();
  const browser = await launchChrome();
  const errors: string[] = [];
  const samples: Sample[] = [];
  const cycles: Cycle[] = [];
  const t0 = Date.now();
  const elapsed = () => (Date.now() - t0) / 1000;
  let failure: string | null = null;
  let models: string[] = [];
  let censusAt: { minute: number; census: Census } | null = null;
  let heapGrowth: { from: number; to: number; top: { what: string; count: number; bytes: number }[] } | null = null;
  const write = async () => {
    // a run too short for two samples from --from on is judged from its first sample after minute 0
    const verdictFrom = samples.filter((s) => s.minute >= fromMinute).length >= 2 ? fromMinute
      : (samples.find((s) => s.minute >= 1) ?? samples[0])?.minute ?? 0;
    const figures = {
      heapUsedMB: trend(samples, 'heapUsedMB', verdictFrom),
      gpuLiveMB: trend(samples, 'gpuLiveMB', verdictFrom),
      gpuPooledMB: trend(samples, 'gpuPooledMB', verdictFrom),
      gpuLiveBuffers: trend(samples, 'gpuLiveBuffers', verdictFrom),
      webgpuLiveMB: trend(samples, 'webgpuLiveMB', verdictFrom),
      domNodes: trend(samples, 'domNodes', verdictFrom),
    };
    const judged = [figures.heapUsedMB, figures.gpuLiveMB, figures.webgpuLiveMB].filter((t): t is Trend => t !== null);
    const flat = failure === null && judged.length > 0 && judged.every((t) => t.flat);
    const verdict = {
      flat,
      rule: `last sample vs the sample at minute ${verdictFrom}: flat when it grew by ≤ 10% or ≤ 5 (MB; buffers/nodes for counts); judged on heapUsedMB, gpuLiveMB, webgpuLiveMB`,
      figures,
      failure,
    };
    const out = {
      date: new Date().toISOString(), minutes, fromMinute: verdictFrom, limit, checkpoint: values.checkpoint, models,
      hook: values['no-hook'] ? 'page as served by npm run demo' : '__demo.stats() appended to examples/demo-page.ts at bundle time',
      userAgent: await browser.version().catch(() => ''), verdict, samples, cycles, heapGrowth, errors,
    };
    await writeFile(values.json, JSON.stringify(out, null, 1) + '\n');
    return verdict;
  };
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(0);
    await page.setViewport({ width: 1000, height: 900 });
    page.on('pageerror', (e) => { errors.push(`page error: ${(e as Error).message ?? e}`); console.error('[chrome] page error:', e); });
    page.on('console', (m) => { if (m.type() === 'error') { errors.push(m.text()); console.error('[chrome]', m.text()); } });
    await page.evaluateOnNewDocument(instrumentWebGpu);
    const cdp = await page.createCDPSession();
    await page.goto(served.url);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', { timeout: 60_000 });
    models = await page.$$eval('#model option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    await page.$eval('#limit', (e, v) => { (e as HTMLInputElement).value = String(v); }, limit);
    await page.$eval('#epochs', (e) => { (e as HTMLInputElement).value = '1'; });

    const sample = async (minute: number) => {
      const h = await heap(page, cdp);
      const g = await gpuStats(page);
      const s: Sample = {
        minute, seconds: round(elapsed(), 1), cycles: cycles.length,
        heapUsedMB: round(h.used / MB), heapTotalMB: round(h.total / MB), domNodes: h.nodes, listeners: h.listeners,
        gpuLiveBuffers: g.rt?.liveBuffers ?? null, gpuLiveMB: g.rt ? round(g.rt.liveBytes / MB) : null, gpuPooledMB: g.rt ? round(g.rt.pooledBytes / MB) : null,
        webgpuLiveBuffers: g.webgpu.liveBuffers, webgpuLiveMB: round(g.webgpu.liveBytes / MB), webgpuCollectedUndestroyed: g.webgpu.collectedUndestroyed,
      };
      samples.push(s);
      console.log(`min ${String(minute).padStart(2)}  t ${String(Math.round(s.seconds)).padStart(5)} s  cycles ${String(s.cycles).padStart(3)}  ` +
        `heap ${s.heapUsedMB.toFixed(2).padStart(7)} MB  gpu live ${s.gpuLiveMB?.toFixed(2).padStart(7) ?? '      -'} MB ` +
        `(${s.gpuLiveBuffers ?? '-'} buffers)  pooled ${s.gpuPooledMB?.toFixed(2).padStart(7) ?? '      -'} MB  ` +
        `webgpu ${s.webgpuLiveMB.toFixed(2)} MB (${s.webgpuLiveBuffers})  nodes ${s.domNodes}  listeners ${s.listeners}`);
      if (!censusAt && !values['no-census'] && minute >= Math.min(fromMinute, minutes / 2)) censusAt = { minute, census: await heapCensus(cdp) };
      await write();
    };
    console.log(`soak: ${minutes} min of the demo page (${served.url}), models ${models.join(', ')}, #limit ${limit}, #epochs 1, checkpoint ${values.checkpoint}`);
    await sample(0);
    let next = 1;
    for (let n = 0; elapsed() < minutes * 60; n++) {
      const c0 = elapsed();
      const model = models[n % models.length]!;
      // every third cycle trains its epoch to the end (the epoch's own evaluation path); the others stop part-way
      const c = await cycle(page, n, model, values.checkpoint, n % 3 === 2);
      const h = await heap(page, cdp);
      cycles.push({ ...c, seconds: round(elapsed() - c0, 1), heapUsedMB: round(h.used / MB) });
      console.log(`  cycle ${n}: ${model} ${c.training}${c.stepAtStop ? ` at ${c.stepAtStop}` : ''}, ${c.loaded}, predicted ${c.prediction}; ` +
        `${round(elapsed() - c0, 1)} s; heap ${round(h.used / MB)} MB; gpu MB live/pooled/buffers ${Object.entries(c.gpu).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      if (elapsed() >= next * 60) {
        const minute = Math.floor(elapsed() / 60);
        await sample(minute);
        next = minute + 1;
      }
    }
    const first = censusAt as { minute: number; census: Census } | null; // set inside sample()
    if (first) {
      // what the page's heap gained from the census at that minute to the end
      heapGrowth = { from: first.minute, to: Math.round(elapsed() / 60), top: censusDiff(first.census, await heapCensus(cdp)) };
      console.log(`heap growth from minute ${heapGrowth.from} to the end (objects, bytes; top by bytes):`);
      for (const r of heapGrowth.top) console.log(`  ${r.what.padEnd(50)} ${String(r.count).padStart(7)} ${String(r.bytes).padStart(10)}`);
    }
  } catch (e) {
    failure = (e as Error).stack ?? String(e);
    console.error(`soak failed: ${failure}`);
  } finally {
    const v = await write();
    await browser.close();
    await served.close();
    console.log(`\nverdict: ${v.flat ? 'flat' : 'NOT flat'} (${v.rule})`);
    for (const [k, t] of Object.entries(v.figures)) {
      if (t) console.log(`  ${k}: ${t.from} → ${t.last} (${t.growth >= 0 ? '+' : ''}${t.growth}, ${t.growthPct}%), slope ${t.slopePerMinute}/min${t.flat ? '' : '  GROWS'}`);
    }
    console.log(`wrote ${values.json}`);
    if (failure) process.exitCode = 1;
  }
}

await main();
