// The benchmark page as plain static files: index.html, app.js (bench/page/main.ts with the suite,
// the report code and the peers, bundled by esbuild) and uPlot.min.css. Every URL in them is
// relative, so the folder can be hosted anywhere (any static server, any path, no server logic).
//   tsx bench/page/build.ts [OUTDIR]      (default dist/bench-page; also `bench/run.ts --build-page OUTDIR`)
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');

/** The page's files, name → contents. */
export type PageFiles = Record<string, string | Uint8Array>;

/** Bundles the page in memory. */
export async function bundleBenchPage(): Promise<PageFiles> {
  const built = await esbuild.build({
    entryPoints: [join(here, 'main.ts')], bundle: true, format: 'esm', platform: 'browser', target: 'es2022',
    minify: true, legalComments: 'none', write: false, logLevel: 'silent', external: ['webgpu', 'node:*'],
  });
  if (built.errors.length) throw new Error(built.errors.map((e) => e.text).join('\n'));
  return {
    'index.html': await readFile(join(here, 'index.html'), 'utf8'),
    'app.js': built.outputFiles[0]!.text,
    'uPlot.min.css': await readFile(join(repo, 'node_modules/uplot/dist/uPlot.min.css'), 'utf8'),
  };
}

/** Writes the static page into `outDir` (created if missing); returns the paths written. */
export async function buildBenchPage(outDir: string): Promise<string[]> {
  const files = await bundleBenchPage();
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const [name, body] of Object.entries(files)) {
    await writeFile(join(outDir, name), body);
    written.push(join(outDir, name));
  }
  return written;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json',
};

export interface Served { url: string; close(): Promise<void> }

/** Serves `files` under `base` (a path ending in "/") on http://127.0.0.1:`port` (0: any free port);
 * `base` itself is index.html. A plain static server, cross-origin isolated (COOP/COEP) so that
 * jax-js's wasm peer gets its worker threads, as in `--runtime chrome`. */
export async function serveFiles(files: PageFiles, port = 0, base = '/'): Promise<Served> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const name = path === base ? 'index.html' : path.startsWith(base) ? path.slice(base.length) : undefined;
    const body = name !== undefined && Object.hasOwn(files, name) ? files[name] : undefined;
    if (body === undefined) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    res.writeHead(200, {
      'content-type': TYPES[extname(name!)] ?? 'application/octet-stream', 'cache-control': 'no-store',
      'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp',
    }).end(body);
  });
  await new Promise<void>((r, j) => { server.once('error', j); server.listen(port, '127.0.0.1', r); });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${base}`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** Serves the files of a folder (not its subfolders), as a static host would. */
export async function serveDir(dir: string, port = 0, base = '/'): Promise<Served> {
  const files: PageFiles = {};
  for (const e of await readdir(dir, { withFileTypes: true })) if (e.isFile()) files[e.name] = await readFile(join(dir, e.name));
  return serveFiles(files, port, base);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ?? join(repo, 'dist/bench-page');
  const written = await buildBenchPage(out);
  console.log(`wrote ${written.join(', ')}\nhost the folder anywhere (plain static files) and open index.html in a browser with WebGPU`);
}
