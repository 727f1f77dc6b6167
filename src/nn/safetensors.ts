// Checkpoints as Hugging Face safetensors, named like the PyTorch twin's state_dict:
//   u64 little-endian header length N, N bytes of UTF-8 JSON (padded with spaces to a multiple of
//   8), then the tensors' bytes, row-major little-endian, contiguous from offset 0 in header order
//   of data_offsets. The header maps each tensor name to { dtype, shape, data_offsets: [begin, end] }
//   and "__metadata__" to a string → string map.
// Names: layer i's parameters are "{i}.weight", "{i}.bias" (Conv2d, Linear) and "{i}.B", "{i}.G",
// "{i}.S", "{i}.perm" (Fastfood; perm as I32, PyTorch having no uint32); a trainer's state is
// "optimizer.{i}.{name}.momentum_buffer" (SGD) or ".exp_avg" and ".exp_avg_sq" (Adam). Metadata:
// format "pt", deepfried_version "1", model (Sequential.toConfig() as JSON) and, with a trainer,
// step and optimizer ("sgd" | "adam").
import { checkFinite, type GpuRuntime, type Tensor } from '../gpu/runtime.js';
import type { Param } from './layers.js';
import { Sequential, type ModelConfig } from './model.js';
import type { Trainer } from './trainer.js';

/** The version of deepfried's use of the format (tensor names and metadata), stored as metadata. */
export const SAFETENSORS_VERSION = '1';

export type SafetensorsDType = 'F32' | 'I32' | 'U32';
export type SafetensorsData = Float32Array | Int32Array | Uint32Array;
export interface SafetensorsTensor { dtype: SafetensorsDType; shape: number[]; data: SafetensorsData }
export interface SafetensorsFile { tensors: Map<string, SafetensorsTensor>; metadata: Record<string, string> }

const ARRAY = { F32: Float32Array, I32: Int32Array, U32: Uint32Array } as const;
/** Every dtype of the format: the ones we do not read get a "not supported" error, anything else "unknown". */
const OTHER_DTYPES = ['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'I16', 'U16', 'F16', 'BF16', 'I64', 'U64', 'F64', 'C64'];
/** The reference implementation's limit; a larger header is a corrupt length, not a header. */
const MAX_HEADER = 100_000_000;
/** Typed arrays use the platform's byte order; the format is little-endian (as is every WebGPU host we know). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function fail(msg: string): never { throw new Error(`deepfried: safetensors: ${msg}`); }
const isDType = (d: unknown): d is SafetensorsDType => d === 'F32' || d === 'I32' || d === 'U32';
const dtypeOfData = (d: unknown): SafetensorsDType | null =>
  d instanceof Float32Array ? 'F32' : d instanceof Int32Array ? 'I32' : d instanceof Uint32Array ? 'U32' : null;
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const isShape = (s: unknown): s is number[] => Array.isArray(s) && s.every((d) => Number.isSafeInteger(d) && d >= 0);
const OLD_DFCK = 'deepfried: this is an old .dfck checkpoint (deepfried 0.1), not safetensors; convert it with deepfried 0.1: ' +
  'loadCheckpoint(buf, model, trainer) into the same model (and trainer), then save that with toSafetensors(model, { trainer }) ' +
  'from this version (the files in results/mnist/ were converted so)';

function checkNotDfck(bytes: Uint8Array): void {
  if (bytes.length >= 4 && bytes[0] === 0x44 && bytes[1] === 0x46 && bytes[2] === 0x43 && bytes[3] === 0x4b) throw new Error(OLD_DFCK);
}

function checkMetadata(metadata: unknown): asserts metadata is Record<string, string> {
  if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) fail(`__metadata__ must be an object of strings, got ${JSON.stringify(metadata)}`);
  for (const [k, v] of Object.entries(metadata as object)) {
    if (typeof v !== 'string') fail(`__metadata__ value "${k}" must be a string, got ${JSON.stringify(v)}`);
  }
}

/** Serialises tensors and string metadata to a safetensors file (tensors in the order given). */
export function encodeSafetensors(tensors: { name: string; dtype: SafetensorsDType; shape: number[]; data: SafetensorsData }[], metadata: Record<string, string>): Uint8Array {
  checkMetadata(metadata);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const t of tensors) {
    if (typeof t.name !== 'string' || !t.name) fail(`tensor name must be a non-empty string, got ${JSON.stringify(t.name)}`);
    if (t.name === '__metadata__') fail('"__metadata__" is not a tensor name');
    if (Object.hasOwn(header, t.name)) fail(`tensor "${t.name}" is given twice`);
    if (!isDType(t.dtype)) fail(`tensor "${t.name}": dtype ${JSON.stringify(t.dtype)} is not one of F32, I32, U32`);
    if (dtypeOfData(t.data) !== t.dtype) fail(`tensor "${t.name}" is ${t.dtype} but its data is ${t.data?.constructor?.name ?? typeof t.data}`);
    if (!isShape(t.shape)) fail(`tensor "${t.name}": shape ${JSON.stringify(t.shape)} must be an array of non-negative integers`);
    if (size(t.shape) !== t.data.length) fail(`tensor "${t.name}": shape [${t.shape}] has ${size(t.shape)} elements, its data ${t.data.length}`);
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  if (!LITTLE_ENDIAN) fail('this platform is big-endian: writing little-endian tensors is not implemented');
  const json = new TextEncoder().encode(JSON.stringify(header));
  const n = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + n + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.fill(0x20, 8 + json.length, 8 + n);
  out.set(json, 8);
  let at = 8 + n;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/**
 * Parses a safetensors file, checking its structure: header length and JSON, dtypes (F32, I32 and
 * U32 are read), shapes, data_offsets contiguous from 0 (in offset order, whatever the key order)
 * and covering the data exactly, metadata values strings. Tensor data is copied out, so offsets
 * need not be aligned.
 */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (!(bytes instanceof Uint8Array)) fail(`expected the file's bytes as a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  checkNotDfck(bytes);
  if (bytes.length < 8) fail(`file is truncated: ${bytes.length} bytes, not even the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) fail(`header length ${n} runs past the end of the file (${bytes.length - 8} bytes after the length): the file is truncated or not safetensors`);
  if (n > BigInt(MAX_HEADER)) fail(`header length ${n} is over the format's limit of ${MAX_HEADER} bytes`);
  const headerEnd = 8 + Number(n);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, headerEnd));
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(`header is not a JSON object (it starts with ${JSON.stringify(text.slice(0, 16))})`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const dataLength = bytes.length - headerEnd;
  let metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      checkMetadata(info);
      metadata = { ...info };
      continue;
    }
    if (!info || typeof info !== 'object' || Array.isArray(info)) fail(`tensor "${name}": entry must be { dtype, shape, data_offsets }, got ${JSON.stringify(info)}`);
    const { dtype, shape, data_offsets: off } = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!isDType(dtype)) {
      fail(typeof dtype === 'string' && OTHER_DTYPES.includes(dtype)
        ? `tensor "${name}": dtype ${dtype} is not supported (deepfried reads F32, I32, U32)`
        : `tensor "${name}": unknown dtype ${JSON.stringify(dtype)} (deepfried reads F32, I32, U32)`);
    }
    if (!isShape(shape)) fail(`tensor "${name}": shape ${JSON.stringify(shape)} must be an array of non-negative integers`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0) || off[0] > off[1]) {
      fail(`tensor "${name}": data_offsets ${JSON.stringify(off)} must be [begin, end] with 0 ≤ begin ≤ end`);
    }
    const [begin, end] = off as [number, number];
    const want = size(shape) * 4;
    if (end - begin !== want) fail(`tensor "${name}": shape [${shape}] of ${dtype} needs ${want} bytes, data_offsets [${begin}, ${end}] hold ${end - begin}`);
    entries.push({ name, dtype: dtype as SafetensorsDType, shape, begin, end });
  }
  // in offset order (zero-length tensors before the others at the same offset) each must start where the previous ended
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin < at) fail(`tensor "${e.name}": data_offsets [${e.begin}, ${e.end}] overlap the previous tensor's data (which ends at ${at})`);
    if (e.begin > at) fail(`tensor "${e.name}": data_offsets [${e.begin}, ${e.end}] leave a gap after ${at} (offsets must be contiguous from 0)`);
    at = e.end;
  }
  if (at > dataLength) {
    const last = sorted[sorted.length - 1]!;
    fail(`file is truncated: tensor "${last.name}" ends at data byte ${at}, the file has ${dataLength} data bytes`);
  }
  if (at < dataLength) fail(`the tensors cover ${at} data bytes, the file has ${dataLength}: ${dataLength - at} bytes after the last tensor`);
  if (!LITTLE_ENDIAN) fail('this platform is big-endian: reading little-endian tensors is not implemented');
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    const start = bytes.byteOffset + headerEnd + e.begin;
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: new ARRAY[e.dtype](bytes.buffer.slice(start, start + e.end - e.begin) as ArrayBuffer) });
  }
  return { tensors, metadata };
}

// ---- models ----

interface Slot {
  name: string;
  tensor: Tensor;
  /** The model parameter (for its kind and name), undefined for optimizer state. */
  param?: Param;
}

const STATE_NAMES = { sgd: ['momentum_buffer'], adam: ['exp_avg', 'exp_avg_sq'] } as const;
const fileDtype = (t: Tensor): SafetensorsDType => (t.dtype === 'f32' ? 'F32' : 'I32'); // u32 (perm) is stored as I32

/** The tensors of a model (and a trainer's state) under their file names, in layer order. */
function slotsOf(model: Sequential, trainer?: Trainer): { params: Slot[]; state: Slot[] } {
  const params: Slot[] = [], state: Slot[] = [];
  const kind = trainer?.opts.optimizer.kind;
  void model.params; // throws "call init(rt) first" for a model without parameters
  model.layers.forEach((l, i) => {
    for (const p of l.params) {
      params.push({ name: `${i}.${p.name}`, tensor: p.value, param: p });
      const s = trainer?.state.get(p);
      if (!s) continue;
      const names = STATE_NAMES[kind!];
      if (s.length !== names.length) throw new Error(`deepfried: the trainer's ${kind} state of ${p.path} has ${s.length} tensors, expected ${names.length}`);
      s.forEach((t, k) => state.push({ name: `optimizer.${i}.${p.name}.${names[k]}`, tensor: t }));
    }
  });
  return { params, state };
}

function checkTrainer(model: Sequential, trainer?: Trainer): void {
  if (trainer && trainer.model !== model) throw new Error('deepfried: safetensors: the trainer was compiled for another model');
}

/**
 * Saves a model's parameters (and a trainer's optimizer state and step) as safetensors, with the
 * PyTorch twin's state_dict names (see the top of this file). Reads the tensors from the GPU.
 */
export async function toSafetensors(model: Sequential, opts: { trainer?: Trainer } = {}): Promise<Uint8Array> {
  const { trainer } = opts;
  checkTrainer(model, trainer);
  const { params, state } = slotsOf(model, trainer);
  const tensors: Parameters<typeof encodeSafetensors>[0] = [];
  for (const s of [...params, ...state]) {
    let data = await s.tensor.read();
    if (data instanceof Uint32Array) {
      const i = data.findIndex((v) => v > 0x7fffffff);
      if (i >= 0) throw new Error(`deepfried: safetensors: tensor "${s.name}" has ${data[i]} at index ${i}, which does not fit the I32 it is saved as`);
      data = new Int32Array(data.buffer, data.byteOffset, data.length);
    }
    tensors.push({ name: s.name, dtype: fileDtype(s.tensor), shape: [...s.tensor.shape], data });
  }
  const metadata: Record<string, string> = { format: 'pt', deepfried_version: SAFETENSORS_VERSION, model: JSON.stringify(model.toConfig()) };
  if (trainer) {
    metadata.step = String(trainer.steps);
    metadata.optimizer = trainer.opts.optimizer.kind;
  }
  return encodeSafetensors(tensors, metadata);
}

/** The path and values of the first place two JSON values differ, or null. */
function firstDifference(a: unknown, b: unknown, path: string): string | null {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (i >= a.length || i >= b.length) return `${path} has ${a.length} entries in the file, ${b.length} in the model`;
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return a === b ? null : `${path} is ${JSON.stringify(a) ?? 'absent'} in the file, ${JSON.stringify(b) ?? 'absent'} in the model`;
}

function configOf(metadata: Record<string, string>): ModelConfig {
  if (metadata.model === undefined) {
    fail(`the file has no "model" metadata (the architecture): it was not written by deepfried or its PyTorch twin (metadata keys: ${Object.keys(metadata).join(', ') || 'none'})`);
  }
  let config: unknown;
  try {
    config = JSON.parse(metadata.model!);
  } catch (e) {
    return fail(`the "model" metadata is not JSON (${(e as Error).message})`);
  }
  if (!config || typeof config !== 'object' || !Array.isArray((config as ModelConfig).layers)) fail('the "model" metadata is not a model config { name, inputShape, layers }');
  return config as ModelConfig;
}

function stepOf(metadata: Record<string, string>): number {
  const s = metadata.step;
  if (s === undefined) return 0;
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) fail(`the "step" metadata ${JSON.stringify(s)} is not a non-negative integer`);
  return Number(s);
}

/** Checks a decoded file against a model (and trainer); writes nothing until everything has passed. */
function loadDecoded(model: Sequential, file: SafetensorsFile, trainer?: Trainer): number {
  checkTrainer(model, trainer);
  const { metadata, tensors } = file;
  const version = metadata.deepfried_version;
  if (version === undefined) fail('the file has no "deepfried_version" metadata: it was not written by deepfried or its PyTorch twin');
  if (version !== SAFETENSORS_VERSION) fail(`the file's deepfried_version is ${JSON.stringify(version)}; this deepfried reads version ${SAFETENSORS_VERSION}`);
  // the architecture (the name is a label: a file loads into a renamed model of the same layers)
  const theirs = configOf(metadata), ours = model.toConfig();
  const diff = firstDifference({ inputShape: theirs.inputShape, layers: theirs.layers }, { inputShape: ours.inputShape, layers: ours.layers }, 'model');
  if (diff) fail(`the file's architecture ("${theirs.name}") differs from the model's ("${ours.name}"): ${diff}`);
  const step = stepOf(metadata);
  const { params, state } = slotsOf(model, trainer);
  const expected = [...params];
  if (trainer) {
    const kind = trainer.opts.optimizer.kind;
    const saved = metadata.optimizer;
    if (saved === undefined) fail(`a trainer was given but the file has no optimizer state (no "optimizer" metadata): it was saved without a trainer; load it without one (the optimizer state then starts from zero)`);
    if (saved !== kind) fail(`the file's optimizer state is ${JSON.stringify(saved)}, the trainer's optimizer is "${kind}"`);
    if (metadata.step === undefined) fail('the file has optimizer state but no "step" metadata');
    expected.push(...state);
  }
  const names = new Set(expected.map((s) => s.name));
  for (const name of tensors.keys()) {
    if (names.has(name)) continue;
    if (!trainer && name.startsWith('optimizer.')) continue; // a trainer's state, not asked for
    fail(`the file has a tensor "${name}" that the model${trainer ? ' and trainer' : ''} do${trainer ? '' : 'es'} not have`);
  }
  const writes: [Tensor, SafetensorsData][] = [];
  for (const s of expected) {
    const f = tensors.get(s.name);
    if (!f) fail(`the file has no tensor "${s.name}"`);
    const t = s.tensor, dtype = fileDtype(t);
    // a u32 tensor (perm) is saved as I32; a U32 one from another writer is read as well
    const dtypeOk = f!.dtype === dtype || (t.dtype === 'u32' && f!.dtype === 'U32');
    if (!dtypeOk || f!.shape.join() !== t.shape.join()) fail(`tensor "${s.name}" is ${f!.dtype}[${f!.shape}] in the file, the model needs ${dtype}[${t.shape}]`);
    let data = f!.data;
    if (data instanceof Float32Array) checkFinite(data, `safetensors tensor "${s.name}"`);
    if (t.dtype === 'u32') {
      const d = t.shape[t.shape.length - 1]!;
      if (s.param?.name === 'perm') checkPermutations(data as Int32Array | Uint32Array, d, s.name);
      else if (data instanceof Int32Array) {
        const i = data.findIndex((v) => v < 0);
        if (i >= 0) fail(`tensor "${s.name}" has ${data[i]} at index ${i}; it must be non-negative`);
      }
      if (!(data instanceof Uint32Array)) data = new Uint32Array(data.buffer, data.byteOffset, data.length);
    }
    writes.push([t, data]);
  }
  for (const [t, data] of writes) t.rt.write(t, data);
  if (trainer) trainer.restoreStep(step);
  return step;
}

/** Each row of d values must hold 0..d−1 once each. */
function checkPermutations(data: Int32Array | Uint32Array, d: number, name: string): void {
  const seen = new Uint8Array(d);
  for (let r = 0; r * d < data.length; r++) {
    seen.fill(0);
    for (let j = 0; j < d; j++) {
      const v = data[r * d + j]!;
      if (!(v >= 0 && v < d)) fail(`tensor "${name}" row ${r} is not a permutation of 0..${d - 1}: it has ${v} at column ${j}`);
      if (seen[v]) fail(`tensor "${name}" row ${r} is not a permutation of 0..${d - 1}: ${v} appears twice (again at column ${j})`);
      seen[v] = 1;
    }
  }
}

/**
 * Loads a safetensors checkpoint into an initialised model (and, with opts.trainer, its optimizer
 * state and step). Everything is checked first: the file's structure, its architecture against the
 * model's, every tensor's presence, dtype and shape, no tensor the model lacks, permutations, finite
 * floats; on any error the model is left as it was. Returns the step (0 for a file without one).
 */
export function loadSafetensors(model: Sequential, bytes: Uint8Array, opts: { trainer?: Trainer } = {}): number {
  return loadDecoded(model, decodeSafetensors(bytes), opts.trainer);
}

/** Rebuilds a model from a safetensors checkpoint's architecture and parameters. */
export function fromSafetensors(rt: GpuRuntime, bytes: Uint8Array): {
  /** The model, initialised on `rt` with the file's parameters. */
  model: Sequential;
  /** The training step saved with a trainer's state; 0 if none. */
  step: number;
  /** The file's `__metadata__` (format, deepfried_version, model, step, optimizer). */
  metadata: Record<string, string>;
} {
  const file = decodeSafetensors(bytes);
  const model = Sequential.fromConfig(configOf(file.metadata)).init(rt, 1);
  try {
    const step = loadDecoded(model, file);
    return { model, step, metadata: { ...file.metadata } };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
