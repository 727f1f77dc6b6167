// The benchmark entry: `npm run bench -- [--filter NAME] [--quick] [--json FILE] [--report FILE]
// [--runtime node|chrome]`. Prints a table, writes JSON, regenerates bench/REPORT.md (full runs; for
// --quick or --filter runs only when --report is given) and the Fastfood-vs-dense SVG next to it.
// `--serve` serves the same suite as a page for any WebGPU browser (bench/page/), `--build-page DIR`
// writes that page as static files.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { statusOf } from './lib/context.js';
import { markdown, svg, table } from './lib/report.js';
import { evaluateTargets } from './lib/targets.js';
import { GROUPS, runSuite, selectGroups } from './lib/suite.js';
import type { BenchResults, SuiteOptions } from './lib/types.js';
import { parseCli } from '../examples/args.js';

const HELP = `usage: npm run bench -- [options]
  --filter NAME        run only the groups whose name contains NAME (${GROUPS.map((g) => g.name).join(', ')})
  --quick              a small version (smoke tests): few shapes, few repetitions
  --json FILE          write the results as JSON
  --report FILE        write the markdown report (default bench/REPORT.md for a full, unfiltered run)
  --runtime node|chrome  Node (Dawn) or a headless Chromium page (default node)
  --from FILE          measure nothing: re-render the table, report and targets from a JSON file
  --serve              measure nothing here: serve the benchmark page on http://127.0.0.1:PORT; opened in
                       a browser with WebGPU it runs the suite on that machine's adapter (Ctrl-C to stop)
  --port N             the port for --serve (default 8080; 0: any free port)
  --build-page DIR     write the benchmark page as static files into DIR (host it anywhere)
  --help`;

const here = dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  const { values } = parseCli({
    options: {
      filter: { type: 'string' }, quick: { type: 'boolean', default: false }, json: { type: 'string' },
      report: { type: 'string' }, from: { type: 'string' }, runtime: { type: 'string', default: 'node' }, help: { type: 'boolean', default: false },
      serve: { type: 'boolean', default: false }, port: { type: 'string', default: '8080' }, 'build-page': { type: 'string' },
    },
    strict: true,
  });
  if (values.help) { console.log(HELP); return; }
  if (values['build-page'] !== undefined) {
    const { buildBenchPage } = await import('./page/build.js');
    const written = await buildBenchPage(values['build-page']);
    console.log(`wrote ${written.join(', ')}\nhost the folder anywhere (plain static files) and open it in a browser with WebGPU`);
    return;
  }
  if (values.filter !== undefined && !selectGroups(values.filter).length) {
    throw new Error(`no benchmark group matches "${values.filter}" (groups: ${GROUPS.map((g) => g.name).join(', ')})`);
  }
  if (values.serve) return servePage(values.port, values.quick, values.filter);
  const runtime = values.runtime;
  if (runtime !== 'node' && runtime !== 'chrome') throw new Error(`--runtime must be node or chrome, got ${runtime}`);
  const opts: SuiteOptions = { quick: values.quick, filter: values.filter, runtime };
  const log = (l: string) => console.log(l);
  const results = values.from ? await reload(values.from)
    : runtime === 'chrome' ? await runInChrome(opts, log) : await runSuite(opts, log);

  console.log(`\n${table(results)}`);
  if (values.json) {
    await mkdir(dirname(resolve(values.json)), { recursive: true });
    await writeFile(values.json, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nwrote ${values.json}`);
  }
  const full = !results.meta.quick && !results.meta.filter;
  const report = values.report ?? (full ? join(here, 'REPORT.md') : undefined);
  if (report) {
    await mkdir(dirname(resolve(report)), { recursive: true });
    const plot = svg(results);
    const svgName = plot ? basename(report).replace(/\.md$/i, '') + '-fastfood-vs-dense.svg' : undefined;
    if (plot && svgName) await writeFile(join(dirname(report), svgName), plot);
    await writeFile(report, markdown(results, svgName));
    console.log(`wrote ${report}${svgName ? ` and ${join(dirname(report), svgName)}` : ''}`);
  }
}

/** Results from an earlier run, with error rows re-classified and targets re-evaluated by this code. */
async function reload(file: string): Promise<BenchResults> {
  const r = JSON.parse(await readFile(file, 'utf8')) as BenchResults;
  for (const g of r.groups) for (const row of g.rows) if (row.status === 'error' && row.error) row.status = statusOf(new Error(row.error));
  return { ...r, targets: evaluateTargets(r) };
}

/** Serves the benchmark page (bundled once, at start) until the process is stopped. */
async function servePage(portText: string, quick: boolean, filter?: string): Promise<never> {
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got ${portText}`);
  const { bundleBenchPage, serveFiles } = await import('./page/build.js');
  const s = await serveFiles(await bundleBenchPage(), port);
  // --quick and --filter prefill the page's form
  const query = new URLSearchParams({ ...(quick ? { quick: '1' } : {}), ...(filter ? { filter } : {}) }).toString();
  console.log(`deepfried benchmark page: open ${s.url}${query ? `?${query}` : ''} in a browser with WebGPU (Ctrl-C to stop)\n` +
    '(from another machine, forward the port, e.g. ssh -L; WebGPU needs https or localhost)');
  return new Promise<never>(() => {});
}

async function runInChrome(opts: SuiteOptions, log: (l: string) => void): Promise<BenchResults> {
  const { openInChrome } = await import('../examples/chrome.js');
  // cross-origin isolated, so that jax-js's wasm backend gets its worker threads (the strongest
  // configuration a web app can give it; without isolation it runs on one core)
  const s = await openInChrome(join(here, 'browser-entry.ts'), '__deepfriedBench', undefined, undefined, true);
  try {
    s.page.on('console', (m) => { if (m.type() === 'log') log(m.text()); });
    const json = await s.page.evaluate((o) => (globalThis as unknown as { __deepfriedBench: { run(o: unknown): Promise<string> } }).__deepfriedBench.run(o), opts);
    return JSON.parse(json) as BenchResults;
  } finally {
    await s.close();
  }
}

main().then(
  // Dawn keeps the event loop alive in some versions; leave explicitly once everything is written.
  () => process.exit(0),
  (e) => { console.error(e instanceof Error ? e.stack ?? e.message : e); process.exit(1); },
);
