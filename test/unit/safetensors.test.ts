// The safetensors reader and writer, without a GPU: exact bytes, round trips, other writers' files
// and every malformed-file error.
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from '../../src/nn/safetensors.js';

const ascii = (s: string) => new TextEncoder().encode(s);
const bytesOf = (...parts: (Uint8Array | number[])[]) => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};
const u64 = (n: number) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n), true); return b; };
const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);
const i32 = (...v: number[]) => new Uint8Array(new Int32Array(v).buffer);
/** A file from a header (object or exact text, padded to 8 unless pad is false) and data bytes. */
const file = (header: object | string, data: Uint8Array = new Uint8Array(0), pad = true) => {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  if (pad) text = text.padEnd(Math.ceil(text.length / 8) * 8, ' ');
  const h = ascii(text);
  return bytesOf(u64(h.length), h, data);
};
const entry = (dtype: string, shape: number[], begin: number, end: number) => ({ dtype, shape, data_offsets: [begin, end] });

describe('safetensors: writer', () => {
  it('writes the exact bytes of the format for a known small file', () => {
    const header = '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[1],"data_offsets":[8,12]}}';
    expect(header.length).toBe(139);
    const expected = bytesOf(
      [0x90, 0, 0, 0, 0, 0, 0, 0], // 144 = 139 bytes of JSON + 5 spaces, little-endian u64
      ascii(header), [0x20, 0x20, 0x20, 0x20, 0x20],
      [0x00, 0x00, 0x80, 0x3f], // 1.0f
      [0x00, 0x00, 0x00, 0xc0], // -2.0f
      [0x07, 0x00, 0x00, 0x00], // 7
    );
    const got = encodeSafetensors([
      { name: 'a', dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) },
      { name: 'b', dtype: 'I32', shape: [1], data: new Int32Array([7]) },
    ], { format: 'pt' });
    expect(got.length).toBe(164);
    expect([...got]).toEqual([...expected]);
    // and reads it back
    const d = decodeSafetensors(expected);
    expect(d.metadata).toEqual({ format: 'pt' });
    expect([...d.tensors.keys()]).toEqual(['a', 'b']);
    expect(d.tensors.get('a')).toEqual({ dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) });
    expect(d.tensors.get('b')).toEqual({ dtype: 'I32', shape: [1], data: new Int32Array([7]) });
  });

  it('round-trips every dtype, scalars, empty tensors, subarray views and unicode names and metadata', () => {
    const backing = new Float32Array([9, 1.5, -0, 3e-38, Infinity, NaN, 9]);
    const tensors = [
      { name: '0.weight', dtype: 'F32' as const, shape: [2, 1, 3], data: new Float32Array([0.1, -0.2, 1e30, -1e-30, 0, 42]) },
      { name: 'view', dtype: 'F32' as const, shape: [5], data: backing.subarray(1, 6) },
      { name: '3.perm', dtype: 'I32' as const, shape: [2, 2], data: new Int32Array([1, 0, -2147483648, 2147483647]) },
      { name: 'u', dtype: 'U32' as const, shape: [3], data: new Uint32Array([0, 4294967295, 7]) },
      { name: 'scalar', dtype: 'F32' as const, shape: [], data: new Float32Array([2.5]) },
      { name: 'empty', dtype: 'I32' as const, shape: [0, 4], data: new Int32Array(0) },
      { name: 'naïve ✓', dtype: 'F32' as const, shape: [1], data: new Float32Array([1]) },
    ];
    const meta = { format: 'pt', note: 'ünïcödé "quoted" {json}', empty: '' };
    const bytes = encodeSafetensors(tensors, meta);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    expect(bytes[8]).toBe(0x7b); // '{'
    const d = decodeSafetensors(bytes);
    expect(d.metadata).toEqual(meta);
    expect([...d.tensors.keys()]).toEqual(tensors.map((t) => t.name));
    for (const t of tensors) {
      const got = d.tensors.get(t.name)!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      expect(got.data.constructor).toBe(t.data.constructor);
      // bit for bit (-0, NaN and infinity included)
      expect(new Uint8Array(got.data.buffer, got.data.byteOffset, got.data.byteLength)).toEqual(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
    // no metadata: no __metadata__ key
    const bare = decodeSafetensors(encodeSafetensors([], {}));
    expect(bare.tensors.size).toBe(0);
    expect(bare.metadata).toEqual({});
  });

  it('refuses to write what it could not read back', () => {
    const t = (o: object) => ({ name: 'x', dtype: 'F32' as const, shape: [2], data: new Float32Array(2), ...o });
    expect(() => encodeSafetensors([t({ data: new Int32Array(2) })], {})).toThrow(/tensor "x" is F32 but its data is Int32Array/);
    expect(() => encodeSafetensors([t({ shape: [3] })], {})).toThrow(/tensor "x": shape \[3\] has 3 elements, its data 2/);
    expect(() => encodeSafetensors([t({ shape: [2.5] })], {})).toThrow(/tensor "x": shape \[2.5\] must be/);
    expect(() => encodeSafetensors([t({ dtype: 'F16' })], {})).toThrow(/tensor "x": dtype "F16" is not one of F32, I32, U32/);
    expect(() => encodeSafetensors([t({}), t({})], {})).toThrow(/tensor "x" is given twice/);
    expect(() => encodeSafetensors([t({ name: '__metadata__' })], {})).toThrow(/"__metadata__" is not a tensor name/);
    expect(() => encodeSafetensors([t({ name: '' })], {})).toThrow(/tensor name must be a non-empty string/);
    expect(() => encodeSafetensors([], { step: 3 as unknown as string })).toThrow(/__metadata__ value "step" must be a string, got 3/);
  });
});

describe('safetensors: reader', () => {
  it('reads another writer\'s file: keys out of offset order, no padding, unaligned data, inside a larger buffer', () => {
    // "b" is listed first but stored second; the header is 3 bytes short of a multiple of 4, so the
    // data starts unaligned; and the file sits at an odd offset of a larger ArrayBuffer
    const header = { b: entry('I32', [2], 12, 20), __metadata__: { who: 'other' }, a: entry('F32', [3], 0, 12) };
    let text = JSON.stringify(header);
    while ((8 + text.length) % 4 !== 1) text += ' ';
    const raw = file(text, bytesOf(f32(1, 2, 3), i32(-5, 6)), false);
    expect((8 + text.length) % 4).toBe(1);
    const big = new Uint8Array(raw.length + 7);
    big.set(raw, 3);
    const d = decodeSafetensors(big.subarray(3, 3 + raw.length));
    expect(d.metadata).toEqual({ who: 'other' });
    expect(d.tensors.get('a')).toEqual({ dtype: 'F32', shape: [3], data: new Float32Array([1, 2, 3]) });
    expect(d.tensors.get('b')).toEqual({ dtype: 'I32', shape: [2], data: new Int32Array([-5, 6]) });
    expect(d.tensors.get('a')!.data.byteOffset).toBe(0); // copied out: aligned, independent of the file's buffer
  });

  it('accepts zero-length tensors anywhere among equal offsets and extra fields in an entry', () => {
    const d = decodeSafetensors(file({ z: entry('F32', [0], 4, 4), a: { ...entry('F32', [1], 0, 4), extra: 1 }, y: entry('U32', [1, 0], 0, 0) }, f32(1)));
    expect([...d.tensors.keys()].sort()).toEqual(['a', 'y', 'z']);
    expect(d.tensors.get('z')!.data.length).toBe(0);
  });

  const bad: [string, Uint8Array, RegExp][] = [
    ['an empty file', new Uint8Array(0), /file is truncated: 0 bytes, not even the 8-byte header length/],
    ['a file shorter than the length', new Uint8Array([1, 0, 0]), /file is truncated: 3 bytes/],
    ['a header length past the end', bytesOf(u64(100), ascii('{}      ')), /header length 100 runs past the end of the file \(8 bytes after the length\)/],
    ['a header length of 2^64 − 1', bytesOf([255, 255, 255, 255, 255, 255, 255, 255], ascii('{}')), /header length 18446744073709551615 runs past the end/],
    ['a header that is not JSON', file('{"a": {"dtype": "F32",'), /header is not JSON/],
    ['a header that is not an object', file('[1, 2]'), /header is not a JSON object \(it starts with "\[1, 2\]/],
    ['a header that is a JSON string', file('"{}"'), /header is not a JSON object/],
    ['a header that is not UTF-8', bytesOf(u64(8), [0x7b, 0xff, 0xfe, 0x7d, 32, 32, 32, 32]), /header is not valid UTF-8/],
    ['an entry that is not an object', file({ a: [1, 2] }), /tensor "a": entry must be \{ dtype, shape, data_offsets \}/],
    ['an unknown dtype', file({ a: entry('Q7', [1], 0, 4) }, f32(1)), /tensor "a": unknown dtype "Q7"/],
    ['a dtype deepfried does not read', file({ a: entry('F16', [2], 0, 4) }, f32(1)), /tensor "a": dtype F16 is not supported \(deepfried reads F32, I32, U32\)/],
    ['a missing dtype', file({ a: { shape: [1], data_offsets: [0, 4] } }, f32(1)), /tensor "a": unknown dtype undefined/],
    ['a negative dimension', file({ a: entry('F32', [-1], 0, 4) }, f32(1)), /tensor "a": shape \[-1\] must be an array of non-negative integers/],
    ['a missing shape', file({ a: { dtype: 'F32', data_offsets: [0, 4] } }, f32(1)), /tensor "a": shape undefined must be/],
    ['data_offsets reversed', file({ a: entry('F32', [1], 4, 0) }, f32(1)), /tensor "a": data_offsets \[4,0\] must be \[begin, end\] with 0 ≤ begin ≤ end/],
    ['data_offsets of three numbers', file({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }, f32(1)), /tensor "a": data_offsets \[0,4,8\] must be/],
    ['fractional data_offsets', file({ a: entry('F32', [1], 0.5, 4.5) }, f32(1)), /tensor "a": data_offsets \[0.5,4.5\] must be/],
    ['shape × dtype size ≠ byte length', file({ a: entry('F32', [2, 3], 0, 20) }, f32(1, 2, 3, 4, 5)), /tensor "a": shape \[2,3\] of F32 needs 24 bytes, data_offsets \[0, 20\] hold 20/],
    ['a gap at the start', file({ a: entry('F32', [1], 4, 8) }, f32(1, 2)), /tensor "a": data_offsets \[4, 8\] leave a gap after 0 \(offsets must be contiguous from 0\)/],
    ['a gap between tensors', file({ a: entry('F32', [1], 0, 4), b: entry('F32', [1], 8, 12) }, f32(1, 2, 3)), /tensor "b": data_offsets \[8, 12\] leave a gap after 4/],
    ['overlapping tensors', file({ a: entry('F32', [2], 0, 8), b: entry('F32', [2], 4, 12) }, f32(1, 2, 3)), /tensor "b": data_offsets \[4, 12\] overlap the previous tensor's data \(which ends at 8\)/],
    ['two tensors on the same bytes', file({ a: entry('F32', [1], 0, 4), b: entry('I32', [1], 0, 4) }, f32(1)), /tensor "b": data_offsets \[0, 4\] overlap/],
    ['bytes after the last tensor', file({ a: entry('F32', [1], 0, 4) }, f32(1, 2)), /the tensors cover 4 data bytes, the file has 8: 4 bytes after the last tensor/],
    ['data but no tensors', file({}, f32(1)), /the tensors cover 0 data bytes, the file has 4/],
    ['a truncated data section', file({ a: entry('F32', [1], 0, 4), b: entry('F32', [3], 4, 16) }, f32(1, 2, 3)), /file is truncated: tensor "b" ends at data byte 16, the file has 12 data bytes/],
    ['metadata that is not an object', file({ __metadata__: ['x'] }), /__metadata__ must be an object of strings, got \["x"\]/],
    ['a metadata value that is not a string', file({ __metadata__: { step: 3 } }), /__metadata__ value "step" must be a string, got 3/],
    ['a null metadata value', file({ __metadata__: { model: null } }), /__metadata__ value "model" must be a string, got null/],
    ['an old .dfck checkpoint', bytesOf(ascii('DFCK'), [1, 0, 0, 0, 2, 0, 0, 0], ascii('{}')), /old \.dfck checkpoint.*loadCheckpoint.*toSafetensors/],
  ];
  for (const [what, bytes, pattern] of bad) {
    it(`rejects ${what}`, () => {
      expect(() => decodeSafetensors(bytes)).toThrow(pattern);
      expect(() => decodeSafetensors(bytes)).toThrow(/^deepfried: /);
    });
  }

  it('names truncation at every cut of a real file', () => {
    const bytes = encodeSafetensors([{ name: 'w', dtype: 'F32', shape: [4], data: new Float32Array([1, 2, 3, 4]) }], { format: 'pt' });
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(() => decodeSafetensors(bytes.subarray(0, cut)), `cut at ${cut}`).toThrow(/truncated/);
    }
    expect(() => decodeSafetensors(bytes)).not.toThrow();
  });

  it('rejects what is not a Uint8Array', () => {
    expect(() => decodeSafetensors(new ArrayBuffer(16) as unknown as Uint8Array)).toThrow(/expected the file's bytes as a Uint8Array/);
  });
});
