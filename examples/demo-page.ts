// The browser training page: pick a model, start/stop, live loss and test-accuracy plots.
import uPlot from 'uplot';
import { createRuntime, type Runtime } from '../src/api.js';
import { type Dataset, loadMnist } from '../src/data/mnist.js';
import { fit } from '../src/nn/fit.js';
import { fromSafetensors, toSafetensors } from '../src/nn/safetensors.js';
import { mnistModel, type Sequential } from '../src/nn/model.js';
import { MNIST_DEFAULTS, type FitEvent } from './mnist-fit.js';
import { MNIST_MODELS, type MnistModelName } from '../src/nn/model.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (s: string) => { $('status').textContent = s; };
const state = { stop: false, running: false, steps: 0, evals: 0, predictions: 0, downloaded: 0, stats: () => rt?.stats() ?? null };
(globalThis as Record<string, unknown>).__demo = state;

const select = $<HTMLSelectElement>('model');
for (const m of MNIST_MODELS) select.add(new Option(m, m, m === MNIST_DEFAULTS.model, m === MNIST_DEFAULTS.model));

const plot = (el: string, title: string, label: string) => new uPlot({
  title, width: 460, height: 260, scales: { x: { time: false } },
  series: [{ label: 'images' }, { label, stroke: '#c0392b', width: 2 }],
}, [[], []], $(el));
const lossPlot = plot('loss', 'training loss', 'loss');
const accPlot = plot('acc', 'test accuracy (%)', 'accuracy');
const lossData: [number[], number[]] = [[], []], accData: [number[], number[]] = [[], []];

let rt: Runtime | undefined;
/** The model trained last: the drawing box predicts with it. */
let model: Sequential | undefined;
let data: { train: Dataset; test: Dataset; limit: number } | undefined;

$('start').onclick = async () => {
  if (state.running) return;
  state.running = true; state.stop = false;
  $<HTMLButtonElement>('start').disabled = true; $<HTMLButtonElement>('stop').disabled = false;
  lossData[0].length = lossData[1].length = accData[0].length = accData[1].length = 0;
  try {
    rt ??= await createRuntime();
    $('adapter').textContent = `${rt.adapterInfo.vendor} ${rt.adapterInfo.architecture}`;
    const limit = Number($<HTMLInputElement>('limit').value);
    if (!data || data.limit !== limit) {
      status('loading MNIST…');
      const [train, test] = await Promise.all([loadMnist('train', { limit }), loadMnist('test', { limit: 2000 })]);
      data = { train, test, limit };
    }
    status('compiling…');
    const onEvent = (e: FitEvent) => {
      if (e.kind === 'start') { $('params').textContent = e.params.toLocaleString('en'); status('training'); }
      if (e.kind === 'progress') {
        state.steps = e.step;
        lossData[0].push(e.images); lossData[1].push(e.loss);
        lossPlot.setData(lossData);
        $('ips').textContent = e.imagesPerSecond.toFixed(1);
        $('step').textContent = `${e.step} / ${e.steps}`;
      }
      if (e.kind === 'eval') {
        state.evals++;
        accData[0].push(state.steps * batch); accData[1].push(100 * (1 - e.testError));
        accPlot.setData(accData);
        $('error').textContent = `${(100 * e.testError).toFixed(2)}%`;
      }
    };
    const batch = MNIST_DEFAULTS.batch;
    model?.dispose();
    model = mnistModel(select.value as MnistModelName).init(rt, MNIST_DEFAULTS.seed);
    await fit(rt, model, data.train, data.test, {
      ...MNIST_DEFAULTS, epochs: Number($<HTMLInputElement>('epochs').value), logEvery: 5,
    }, { onEvent, shouldStop: () => state.stop });
    status(state.stop ? 'stopped' : 'done');
  } catch (e) {
    status(`error: ${(e as Error).message}`);
    console.error(e);
  } finally {
    state.running = false;
    $<HTMLButtonElement>('start').disabled = false; $<HTMLButtonElement>('stop').disabled = true;
  }
  $<HTMLButtonElement>('download').disabled = !model;
  await predictDrawing();
};

// The model leaves and comes back as a safetensors file (the same format as the CLI's --save and
// the PyTorch twin's).
$('download').onclick = async () => {
  if (!model) return;
  const bytes = await toSafetensors(model);
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }));
  a.download = `${model.name}.safetensors`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  state.downloaded = bytes.length;
};
$<HTMLInputElement>('load').onchange = async (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (!file || state.running) return;
  try {
    rt ??= await createRuntime();
    const loaded = fromSafetensors(rt, new Uint8Array(await file.arrayBuffer()));
    model?.dispose();
    model = loaded.model;
    $('params').textContent = model.parameterCount.toLocaleString('en');
    $<HTMLButtonElement>('download').disabled = false;
    status(`loaded ${model.name} (step ${loaded.step})`);
    await predictDrawing();
  } catch (err) {
    status(`error: ${(err as Error).message}`);
  }
};
$('stop').onclick = () => { state.stop = true; status('stopping…'); };

// Draw a digit: a 196×196 canvas (white on black, like MNIST) scaled down to 28×28, then the model's
// logits through predict() and a softmax.
const draw = $<HTMLCanvasElement>('draw'), pen = draw.getContext('2d', { willReadFrequently: true })!;
let drawing = false;
const stroke = (e: PointerEvent) => {
  const r = draw.getBoundingClientRect();
  pen.fillStyle = '#fff';
  pen.beginPath();
  pen.arc(e.clientX - r.left, e.clientY - r.top, 9, 0, 2 * Math.PI);
  pen.fill();
};
draw.onpointerdown = (e) => { drawing = true; stroke(e); };
draw.onpointermove = (e) => { if (drawing) stroke(e); };
draw.onpointerup = draw.onpointerleave = () => { if (drawing) { drawing = false; void predictDrawing(); } };
$('clear').onclick = () => { pen.fillStyle = '#000'; pen.fillRect(0, 0, draw.width, draw.height); $('guess').textContent = '–'; $('probs').textContent = ''; };
$('clear').click();

/** The drawing as a [1, 1, 28, 28] image in [0, 1]: each pixel the mean of a 7×7 block. */
function drawingPixels(): Float32Array {
  const d = pen.getImageData(0, 0, draw.width, draw.height).data, s = draw.width / 28;
  const px = new Float32Array(28 * 28);
  for (let y = 0; y < draw.height; y++) for (let x = 0; x < draw.width; x++) px[Math.floor(y / s) * 28 + Math.floor(x / s)]! += d[4 * (y * draw.width + x)]! / 255 / (s * s);
  return px;
}

async function predictDrawing(): Promise<void> {
  if (!rt || !model || state.running) return;
  const m = model, r = rt;
  const logits = r.tidy(() => m.predict(r.tensor(drawingPixels(), [1, 1, 28, 28])));
  const z = await logits.read();
  logits.dispose();
  const max = Math.max(...z), e = Array.from(z, (v) => Math.exp(v - max)), sum = e.reduce((a, b) => a + b, 0);
  const probs = e.map((v) => v / sum), best = probs.indexOf(Math.max(...probs));
  $('guess').textContent = String(best);
  $('probs').textContent = probs.map((p, i) => `${i}: ${(100 * p).toFixed(1)}%`).join('  ');
  state.predictions++;
}
status('ready');
