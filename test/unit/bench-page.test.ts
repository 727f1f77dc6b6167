// The benchmark page (bench/page/): its static build, served from a sub-path by a plain static
// server (relative URLs only), runs a quick, filtered suite in headless Chrome, shows progress, the
// report and a plot, and offers the JSON of `bench/run.ts --json`: the CLI reads it back with --from
// and writes the same bytes. Without navigator.gpu the page says so.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { buildBenchPage, serveDir, type Served } from '../../bench/page/build.js';
import { launchChrome } from '../../examples/chrome.js';

const repo = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'deepfried-bench-page-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const keys = (o: object) => Object.keys(o).sort();

it.skipIf(process.env.DEEPFRIED_SKIP_CHROME === '1')('the static bench page runs a quick filtered suite in headless Chrome and offers the CLI\'s JSON', async () => {
  const out = join(dir, 'page');
  const launched = launchChrome(); // while the page builds
  let served: Served | undefined;
  try {
    const written = await buildBenchPage(out);
    expect(written.map((f) => f.slice(out.length + 1)).sort()).toEqual(['app.js', 'index.html', 'uPlot.min.css']);
    // any path on any static host: the page's URLs are relative
    served = await serveDir(out, 0, '/somewhere/deep/bench/');
    const browser = await launched;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(served.url);
    await page.waitForFunction(() => (globalThis as any).__deepfriedBenchPage?.phase === 'ready', { timeout: 30_000 });
    // the options, as a visitor sets them
    await page.click('#quick');
    await page.type('#filter', 'overhead');
    await page.click('#start');
    await page.waitForFunction(() => {
      const s = (globalThis as any).__deepfriedBenchPage;
      if (s.phase === 'error') throw new Error(s.error);
      return s.phase === 'done';
    }, { timeout: 120_000, polling: 250 });
    // progress: one block per phase, the group done with its rows counted
    const blocks = await page.$$eval('#progress details', (ds) => ds.map((d) => [(d as HTMLElement).dataset.name, (d as HTMLElement).dataset.state, d.querySelector('summary')!.textContent]));
    expect(blocks.map((b) => b[0])).toEqual(['adapter, baselines, peer', 'overhead', 'baselines again (end of run)']);
    expect(blocks[1]![1]).toBe('ok');
    expect(blocks[1]![2]).toMatch(/^overhead: ok, [1-9]\d* rows in [\d.]+ s$/);
    expect(await page.$eval('#bar', (b) => [(b as HTMLProgressElement).value, (b as HTMLProgressElement).max])).toEqual([3, 3]);
    // the JSON the download link offers, as `bench/run.ts --json` writes it
    const text = await page.$eval('#download', async (a) => (await fetch((a as HTMLAnchorElement).href)).text());
    const fromPage = JSON.parse(text);
    expect(fromPage.meta).toMatchObject({ quick: true, filter: 'overhead', runtime: 'chrome' });
    expect(fromPage.groups.map((g: { name: string }) => g.name)).toEqual(['overhead']);
    expect(fromPage.groups[0].status).toBe('ok');
    expect(await page.$eval('#download', (a) => (a as HTMLAnchorElement).download)).toMatch(/^deepfried-bench-.*-quick\.json$/);
    // the report: report.ts's markdown as HTML
    const report = await page.$eval('#report', (e) => ({
      h2: Array.from(e.querySelectorAll('h2'), (h) => h.textContent), tables: e.querySelectorAll('table').length,
      rows: e.querySelectorAll('td').length, text: e.textContent ?? '',
    }));
    expect(report.h2).toEqual(['Adapter', 'Baselines (this run)', 'Targets', 'overhead']);
    expect(report.tables).toBe(4);
    expect(report.rows).toBeGreaterThan(20);
    expect(report.text).toContain('relu ×300 (eager, one read)');
    expect(await page.$$eval('#plots .plot canvas', (c) => c.length)).toBe(1);
    expect(errors).toEqual([]);

    // the shape of BenchResults (bench/lib/types.ts), as `bench/run.ts --json` writes it
    expect(keys(fromPage)).toEqual(['adapter', 'baselines', 'groups', 'meta', 'targets']);
    expect(keys(fromPage.meta)).toEqual(['date', 'filter', 'quick', 'runtime', 'seconds', 'timing', 'userAgent']);
    expect(keys(fromPage.baselines)).toEqual(['copy', 'copyVariants', 'fma', 'fmaVariants']);
    expect(fromPage.targets.length).toBeGreaterThan(0);
    // the CLI re-renders it (--from) and writes it back (--json) byte for byte
    const pageJson = join(dir, 'page.json'), cliJson = join(dir, 'cli.json');
    writeFileSync(pageJson, text);
    const cli = spawnSync(process.execPath, [join(repo, 'node_modules/tsx/dist/cli.mjs'), 'bench/run.ts', '--from', pageJson, '--json', cliJson],
      { cwd: repo, encoding: 'utf8', timeout: 60_000 });
    expect(cli.status, `${cli.stdout}\n${cli.stderr}`).toBe(0);
    expect(cli.stdout).toContain('relu ×300 (eager, one read)');
    expect(readFileSync(cliJson, 'utf8')).toBe(text);

    // without WebGPU the page says so, and cannot be started
    const bare = await browser.newPage();
    await bare.evaluateOnNewDocument(() => { delete (Navigator.prototype as { gpu?: unknown }).gpu; });
    await bare.goto(served.url);
    await bare.waitForFunction(() => (globalThis as any).__deepfriedBenchPage?.phase === 'no-webgpu', { timeout: 30_000 });
    expect(await bare.$eval('#support', (e) => e.textContent)).toMatch(/^This browser has no WebGPU/);
    expect(await bare.$eval('#start', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
  } finally {
    await (await launched.catch(() => null))?.close();
    await served?.close();
  }
}, 150_000);
