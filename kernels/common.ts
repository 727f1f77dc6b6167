// WGSL boilerplate shared by every kernel: binding declarations, the Params uniform struct and
// the flattened workgroup index (dispatches fold past maxComputeWorkgroupsPerDimension into y).
import { wgsl as preprocess } from 'wgsl-preprocessor/wgsl-preprocessor.js';

/** wgsl-preprocessor's tagged template (#if / #elif / #else / #endif on interpolated values).
 * Typed here so that the published declarations need no types for wgsl-preprocessor. */
export const wgsl: (strings: TemplateStringsArray, ...values: unknown[]) => string = preprocess;

export type Scalar = 'u32' | 'i32' | 'f32';
/** Element type of a storage binding: a scalar or a 2- or 4-vector of one. */
export type Element = Scalar | 'vec2<f32>' | 'vec4<f32>' | 'vec4<u32>' | 'vec4<i32>';
export type Access = 'read' | 'read_write';

export interface BindingDecl {
  name: string;
  access: Access;
  /** WGSL element type of the storage array, e.g. 'f32' or 'vec4<f32>'. */
  type: Element;
}

/** A kernel ready to compile: its complete WGSL and the static facts the runtime needs. */
export interface KernelInstance {
  /** Short name used in labels and error messages. */
  name: string;
  /** Everything that changes the WGSL text or the pipeline: the pipeline cache's key. A kernel
   * family's instances are keyed on the family name and the builder's arguments (see family()). */
  key: string;
  code: string;
  entryPoint: string;
  /** Storage buffers, at bindings 1..n of group 0 (binding 0 is the Params uniform). */
  bindings: readonly BindingDecl[];
  /** Fields of the Params uniform, in order; every field is a 4-byte scalar. */
  params: readonly (readonly [string, Scalar])[];
  /** Values for WGSL `override` constants. */
  constants?: Readonly<Record<string, number>>;
}

/** WGSL declarations of Params (binding 0) and the storage bindings (1..n). */
export function header(bindings: readonly BindingDecl[], params: readonly (readonly [string, Scalar])[]): string {
  const fields = params.length ? params.map(([n, t]) => `  ${n}: ${t},`).join('\n') : '  _unused: u32,';
  const decls = bindings
    .map((b, i) => `@group(0) @binding(${i + 1}) var<storage, ${b.access}> ${b.name}: array<${b.type}>;`)
    .join('\n');
  return `struct Params {\n${fields}\n}\n@group(0) @binding(0) var<uniform> P: Params;\n${decls}\n` +
    `fn flatWorkgroup(wid: vec3u, nwg: vec3u) -> u32 { return wid.x + wid.y * nwg.x; }\n`;
}

/** Assembles a KernelInstance, prepending the generated header to the body. */
export function kernel(
  name: string,
  bindings: readonly BindingDecl[],
  params: readonly (readonly [string, Scalar])[],
  body: string,
  constants?: Record<string, number>,
): KernelInstance {
  const code = header(bindings, params) + body;
  return { name, key: `${name}\n${JSON.stringify(constants ?? {})}\n${code}`, code, entryPoint: 'main', bindings, params, constants };
}

/** A kernel builder memoised on its arguments: the WGSL of a variant is generated once, on the
 * first call with those arguments, and the instance is keyed `family(args)` for the pipeline cache.
 * Builders must be pure functions of their (JSON-serialisable) arguments: every choice that
 * changes the code is an argument, never state read from elsewhere. `uncached` builds afresh
 * (tests check that equal keys give equal WGSL). */
export interface KernelFamily<A extends unknown[]> {
  (...args: A): KernelInstance;
  readonly family: string;
  uncached(...args: A): KernelInstance;
}

export function family<A extends unknown[]>(name: string, build: (...args: A) => KernelInstance): KernelFamily<A> {
  const memo = new Map<string, KernelInstance>();
  const keyOf = (args: A) => `${name}${JSON.stringify(args)}`;
  const uncached = (...args: A): KernelInstance => ({ ...build(...args), key: keyOf(args) });
  const f = (...args: A): KernelInstance => {
    const key = keyOf(args);
    let k = memo.get(key);
    if (!k) { k = uncached(...args); memo.set(key, k); }
    return k;
  };
  return Object.assign(f, { family: name, uncached });
}

export const ro = (name: string, type: Element = 'f32'): BindingDecl => ({ name, access: 'read', type });
export const rw = (name: string, type: Element = 'f32'): BindingDecl => ({ name, access: 'read_write', type });
