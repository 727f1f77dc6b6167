// One versioned binary file: "DFCK", u32 version, u32 header length, JSON header, raw tensor data.
// Holds every parameter and buffer of a model and, from a trainer, the optimizer state and step.
import { checkFinite, type Tensor } from '../gpu/runtime.js';
import type { Sequential } from './model.js';
import type { Trainer } from './trainer.js';

const MAGIC = 0x4b434644; // "DFCK" little-endian
export const CHECKPOINT_VERSION = 1;

interface Entry { key: string; shape: number[]; dtype: string; offset: number; length: number }
interface Header { version: number; model: string; step: number; optimizer: string | null; tensors: Entry[] }

function tensorsOf(model: Sequential, trainer?: Trainer): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  for (const p of model.params) {
    m.set(p.path, p.value);
    trainer?.state.get(p)?.forEach((t, i) => m.set(`${p.path}#state${i}`, t));
  }
  return m;
}

/** Serialises a model (and a trainer's optimizer state) to an ArrayBuffer. */
export async function saveCheckpoint(model: Sequential, trainer?: Trainer): Promise<ArrayBuffer> {
  const tensors = tensorsOf(model, trainer);
  const data: Uint8Array[] = [];
  const entries: Entry[] = [];
  let offset = 0;
  for (const [key, t] of tensors) {
    const bytes = new Uint8Array((await t.read()).buffer);
    entries.push({ key, shape: [...t.shape], dtype: t.dtype, offset, length: bytes.length });
    data.push(bytes);
    offset += bytes.length;
  }
  const header: Header = { version: CHECKPOINT_VERSION, model: model.name, step: trainer?.steps ?? 0, optimizer: trainer?.opts.optimizer.kind ?? null, tensors: entries };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 4) * 4;
  const out = new Uint8Array(12 + headerLen + offset);
  const v = new DataView(out.buffer);
  v.setUint32(0, MAGIC, true);
  v.setUint32(4, CHECKPOINT_VERSION, true);
  v.setUint32(8, headerLen, true);
  out.fill(0x20, 12, 12 + headerLen);
  out.set(json, 12);
  let at = 12 + headerLen;
  for (const d of data) { out.set(d, at); at += d.length; }
  return out.buffer;
}

/** Restores a checkpoint into an initialised model (and trainer), checking names and shapes. Returns the step. */
export function loadCheckpoint(buf: ArrayBuffer, model: Sequential, trainer?: Trainer): number {
  const v = new DataView(buf);
  if (buf.byteLength < 12 || v.getUint32(0, true) !== MAGIC) throw new Error('deepfried: not a deepfried checkpoint (bad magic)');
  const version = v.getUint32(4, true);
  if (version !== CHECKPOINT_VERSION) throw new Error(`deepfried: checkpoint version ${version} is not supported (expected ${CHECKPOINT_VERSION})`);
  const headerLen = v.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 12, headerLen))) as Header;
  if (header.model !== model.name) throw new Error(`deepfried: checkpoint is of model "${header.model}", not "${model.name}"`);
  const tensors = tensorsOf(model, trainer);
  const byKey = new Map(header.tensors.map((e) => [e.key, e]));
  const dataStart = 12 + headerLen;
  // every tensor is checked before any is written: a bad file leaves the model as it was
  const writes: [Tensor, Float32Array | Int32Array | Uint32Array][] = [];
  for (const [key, t] of tensors) {
    const e = byKey.get(key);
    if (!e) throw new Error(`deepfried: checkpoint has no tensor "${key}"`);
    if (e.shape.join() !== t.shape.join() || e.dtype !== t.dtype) {
      throw new Error(`deepfried: checkpoint tensor "${key}" is ${e.dtype}[${e.shape}], the model has ${t.dtype}[${t.shape}]`);
    }
    if (e.length !== t.byteLength || dataStart + e.offset + e.length > buf.byteLength || (dataStart + e.offset) % 4) {
      throw new Error(`deepfried: checkpoint tensor "${key}" lies outside the file (offset ${e.offset}, ${e.length} bytes; the file has ${buf.byteLength - dataStart} data bytes)`);
    }
    const Arr = t.dtype === 'f32' ? Float32Array : t.dtype === 'i32' ? Int32Array : Uint32Array;
    const data = new Arr(buf.slice(dataStart + e.offset, dataStart + e.offset + e.length));
    if (data instanceof Float32Array) checkFinite(data, `checkpoint tensor "${key}"`);
    writes.push([t, data]);
  }
  for (const [t, data] of writes) t.rt.write(t, data);
  if (trainer) trainer.restoreStep(header.step);
  return header.step;
}
