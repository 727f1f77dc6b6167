// Headless Chromium with WebGPU, for tests, benchmarks and the browser trainer. The page is served
// from http://127.0.0.1 (a secure context; about:blank and data: URLs have no navigator.gpu).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import puppeteer, { type Browser, type Page } from 'puppeteer';

export const CHROME_ARGS = [
  '--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-dev-shm-usage',
];

/** CHROME_PATH, then Debian's /usr/bin/chromium, else puppeteer's own downloaded browser. */
export function chromePath(): string | undefined {
  return [process.env.CHROME_PATH, '/usr/bin/chromium'].find((p): p is string => !!p && existsSync(p));
}

// dumpio stays off: Chromium's own stderr here is noise (the /usr/bin/chromium wrapper's
// "[: …: unexpected operator", a dozen dbus "Failed to connect to the bus" errors); page errors and
// console errors reach us through openInChrome's listeners instead.
export async function launchChrome(): Promise<Browser> {
  return puppeteer.launch({ executablePath: chromePath(), headless: true, args: CHROME_ARGS, protocolTimeout: 0 });
}

const TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.png': 'image/png',
};

export interface Served { url: string; close(): Promise<void> }

/** Serves `entry` bundled by esbuild as /app.js behind a minimal page, plus extra routes (URL path → file).
 * `isolated`: every response carries COOP/COEP, so the page is cross-origin isolated
 * (SharedArrayBuffer, hence worker threads for wasm libraries such as jax-js's backend). */
export async function serveBundle(entry: string, routes: Record<string, string> = {}, html?: string, port = 0, isolated = false): Promise<Served> {
  const built = await esbuild.build({
    entryPoints: [resolve(entry)], bundle: true, format: 'esm', platform: 'browser', target: 'es2022',
    write: false, logLevel: 'silent', external: ['webgpu', 'node:*'],
  });
  const js = built.outputFiles[0]!.text;
  const page = html ?? '<!doctype html><meta charset="utf-8"><title>deepfried</title><body><script type="module" src="/app.js"></script></body>';
  const server: Server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    try {
      if (isolated) {
        res.setHeader('cross-origin-opener-policy', 'same-origin');
        res.setHeader('cross-origin-embedder-policy', 'require-corp');
      }
      if (path === '/' || path === '/index.html') return send(res, 'text/html', page);
      if (path === '/app.js') return send(res, 'text/javascript', js);
      if (path === '/favicon.ico') return void res.writeHead(204).end();
      const file = routes[path];
      if (file) return send(res, TYPES[extname(file)] ?? 'application/octet-stream', await readFile(file));
      res.writeHead(404).end('not found');
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  await new Promise<void>((r, j) => { server.once('error', j); server.listen(port, '127.0.0.1', r); });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}/`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function send(res: import('node:http').ServerResponse, type: string, body: string | Buffer): void {
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
}

export interface ChromeSession { browser: Browser; page: Page; served: Served; close(): Promise<void> }

/** Launches Chromium, opens the served bundle and waits until `readyGlobal` is defined on window. */
export async function openInChrome(entry: string, readyGlobal: string, routes?: Record<string, string>, html?: string, isolated = false): Promise<ChromeSession> {
  const served = await serveBundle(entry, routes, html, 0, isolated);
  const browser = await launchChrome();
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(0);
    page.on('pageerror', (e) => console.error('[chrome] page error:', e));
    page.on('console', (m) => { if (m.type() === 'error') console.error('[chrome]', m.text()); });
    await page.goto(served.url);
    await page.waitForFunction(`globalThis.${readyGlobal} !== undefined`, { timeout: 60_000 });
    return { browser, page, served, close: async () => { await browser.close(); await served.close(); } };
  } catch (e) {
    await browser.close();
    await served.close();
    throw e;
  }
}
