// The browser training page: pick a model, start/stop, live loss and test-accuracy plots.
import uPlot from 'uplot';
import { createRuntime, type Runtime } from '../src/api.js';
import { type Dataset, loadMnist } from '../src/data/mnist.js';
import { fitMnist, MNIST_DEFAULTS, type FitEvent } from './mnist-fit.js';
import { MNIST_MODELS, type MnistModelName } from '../src/nn/model.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (s: string) => { $('status').textContent = s; };
const state = { stop: false, running: false, steps: 0, evals: 0 };
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
    await fitMnist(rt, data.train, data.test, {
      ...MNIST_DEFAULTS, model: select.value as MnistModelName, epochs: Number($<HTMLInputElement>('epochs').value), logEvery: 5,
    }, { onEvent, shouldStop: () => state.stop });
    status(state.stop ? 'stopped' : 'done');
  } catch (e) {
    status(`error: ${(e as Error).message}`);
    console.error(e);
  } finally {
    state.running = false;
    $<HTMLButtonElement>('start').disabled = false; $<HTMLButtonElement>('stop').disabled = true;
  }
};
$('stop').onclick = () => { state.stop = true; status('stopping…'); };
status('ready');
