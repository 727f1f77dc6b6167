// A model's forward pass as a graph: the training step builds on it, evaluation adds the loss and
// its running sums, prediction keeps the logits.
import { GraphBuilder, type CompiledGraph, type GraphValue } from '../graph/graph.js';
import type { GpuRuntime, Tensor, TensorRef } from '../gpu/runtime.js';
import type { Tuning } from '../gpu/tuning.js';
import { encodeAccumulate, encodeLossGuard } from '../ops/optim.js';
import { encodeSoftmaxCrossEntropy } from '../ops/softmax_xent.js';
import { fusedRelu, type BuildContext, type Conv2d, type Linear, type Node, type Param, type ReLU } from './layers.js';
import type { Sequential } from './model.js';

export interface ForwardGraph {
  g: GraphBuilder;
  /** The graph's input tensors, written before each submit. */
  x: Tensor;
  labels: Tensor;
  nodes: Node[];
  logits: TensorRef;
  classes: number;
  /** With `loss`: running sums of the loss and the correct count, and (training graphs) the first
   * step whose loss was not finite, 0 if none ([1] tensors, cleared when read). */
  acc: Tensor[];
  /** Training graphs: the loss gradient. */
  dlogits?: GraphValue;
}

/** Emits the forward pass of `model` at batch size `batch` (training: dropout on, activations
 * saved for backward, gradients through `grads`), plus the loss and its running sums unless
 * `loss` is false. A Linear or Conv2d followed by a ReLU compiles as one kernel unless `fuse` is
 * false (Trainer.diagnose(), which reads every layer's own output). */
export function buildForward(rt: GpuRuntime, model: Sequential, batch: number,
  o: { train: boolean; hyper?: Tensor; loss: boolean; grads?: Map<Param, GraphValue>; tuning?: Tuning; fuse?: boolean }): ForwardGraph {
  const g = new GraphBuilder(rt, `${o.train ? 'train' : o.loss ? 'eval' : 'predict'} ${model.name} batch ${batch}`, o.tuning);
  // the graph's own tensors: never disposed by an rt.tidy() that happens to compile it
  const x = rt.keep(rt.empty([batch, ...model.inputShape], 'f32', 'batch x'));
  const labels = rt.keep(rt.empty([batch], 'i32', 'batch labels'));
  const c: BuildContext = {
    g, train: o.train, hyper: o.hyper,
    grad: (p) => {
      if (!o.grads) throw new Error('deepfried: gradients requested in an inference graph');
      let t = o.grads.get(p);
      if (!t) { t = g.value(p.shape, 'f32', `grad ${p.name}`); o.grads.set(p, t); }
      return t;
    },
  };
  const nodes: Node[] = [];
  let h: TensorRef = x;
  const layers = model.layers;
  for (let i = 0; i < layers.length; i++) {
    if (o.fuse !== false && fusedRelu(layers, i)) { // conv/linear + ReLU as one kernel; nodes stay one per layer
      const n = (layers[i] as Linear | Conv2d).compile(c, h, true);
      nodes.push(n, (layers[i + 1] as ReLU).compileFused(c, n.y));
      h = n.y;
      i++;
      continue;
    }
    const n = layers[i]!.compile(c, h);
    nodes.push(n);
    h = n.y;
  }
  if (h.shape.length !== 2) throw new Error(`deepfried: ${model.name} ends in shape [${h.shape}], expected logits [batch, classes]`);
  const out: ForwardGraph = { g, x, labels, nodes, logits: h, classes: h.shape[1]!, acc: [] };
  if (!o.loss) {
    g.keep(h);
    return out;
  }
  const loss = g.value([1], 'f32', 'loss'), correct = g.value([1], 'f32', 'correct');
  out.dlogits = o.train ? g.value(h.shape, 'f32', 'dlogits') : undefined;
  g.emit('softmax cross-entropy', (ctx) => encodeSoftmaxCrossEntropy(ctx, h, labels, loss, { dlogits: out.dlogits, correct }));
  out.acc = (o.train ? [0, 1, 2] : [0, 1]).map(() => rt.keep(rt.zeros([1])));
  g.emit('stats', () => [...encodeAccumulate(loss, out.acc[0]!), ...encodeAccumulate(correct, out.acc[1]!)]);
  if (o.train) g.emit('loss guard', () => encodeLossGuard(loss, o.hyper!, out.acc[2]!));
  return out;
}

/** A compiled forward graph and its inputs. */
export interface Compiled {
  graph: CompiledGraph;
  x: Tensor;
  labels: Tensor;
  acc: Tensor[];
  logits: TensorRef;
  classes: number;
}

export function compileForward(f: ForwardGraph): Compiled {
  return { graph: f.g.compile(), x: f.x, labels: f.labels, acc: f.acc, logits: f.logits, classes: f.classes };
}

export function destroyCompiled(c: Compiled): void {
  c.graph.destroy();
  for (const t of [c.x, c.labels, ...c.acc]) t.dispose();
}

/** Copies small accumulators to a staging buffer, zeroes them in the same submit, and reads them. */
export async function readAndClear(rt: GpuRuntime, acc: Tensor[]): Promise<number[]> {
  const bufs = acc.map((t) => t.buffer);
  const raw = await rt.readback(4 * bufs.length, 'stats', (enc, staging) => {
    bufs.forEach((b, i) => { enc.copyBufferToBuffer(b, 0, staging, 4 * i, 4); enc.clearBuffer(b); });
  });
  return [...new Float32Array(raw)];
}
