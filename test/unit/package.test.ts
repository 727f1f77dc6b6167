// The package as a consumer gets it: the build (tsconfig.build.json) into a package folder with
// this package.json, imported by name from another project. Its declarations must compile under a
// strict consumer with skipLibCheck off and no ambient types of its own (the WebGPU types come with
// the package), and its JavaScript must load in plain Node ESM (no tsx).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');
const pkgJson = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  name: string; files: string[]; exports: Record<string, Record<string, string>>; dependencies: Record<string, string>;
};
const tsc = join(repo, 'node_modules/.bin/tsc');

describe('the published package', () => {
  const dir = mkdtempSync(join(tmpdir(), 'deepfried-pkg-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ships every file its exports name, and its declarations need only its dependencies', () => {
    for (const target of Object.values(pkgJson.exports).flatMap((e) => Object.values(e))) {
      const path = target.replace(/^\.\//, '');
      expect(pkgJson.files.some((f) => path.startsWith(`${f}/`)), `${path} is under "files"`).toBe(true);
    }
    expect(Object.keys(pkgJson.dependencies)).toContain('@webgpu/types');
  });

  it('compiles in a strict consumer and loads in plain Node', () => {
    const pkg = join(dir, 'pkg'), app = join(dir, 'app');
    const build = spawnSync(tsc, ['-p', join(repo, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist'), '--sourceMap', 'false', '--inlineSources', 'false'], { encoding: 'utf8' });
    expect(build.status, build.stdout + build.stderr).toBe(0);
    writeFileSync(join(pkg, 'package.json'), JSON.stringify(pkgJson));
    symlinkSync(join(repo, 'node_modules'), join(pkg, 'node_modules'), 'dir');
    mkdirSync(join(app, 'node_modules'), { recursive: true });
    symlinkSync(pkg, join(app, 'node_modules', pkgJson.name), 'dir');
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', type: 'module', private: true }));
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, module: 'nodenext', target: 'es2022', skipLibCheck: false, types: [], outDir: 'out' }, files: ['main.ts'],
    }));
    writeFileSync(join(app, 'main.ts'), `
import { compileTrainer, createRuntime, mnistModel, type FastfoodParams, type Runtime, type Tensor } from 'deepfried';
import { encodeFastfood } from 'deepfried/kernels';
export async function use(device: GPUDevice): Promise<number> {
  const rt: Runtime = await createRuntime({ device });
  const x = rt.tensor(new Float32Array(16), [2, 8]);
  const p: FastfoodParams = { B: rt.zeros([1, 8]), G: rt.zeros([1, 8]), S: rt.zeros([1, 8]), perm: rt.tensor(new Uint32Array(8).map((_, i) => i), [1, 8]), outFeatures: 8 };
  const y: Tensor = rt.tidy(() => rt.relu(rt.fastfood(x, p)));
  const buf: GPUBuffer = y.buffer;
  return buf.size + (await y.read()).length;
}
console.log(typeof createRuntime, typeof mnistModel, typeof compileTrainer, typeof encodeFastfood, '');
`);
    // deepfried/tfjs, compiled on its own: tfjs's declarations need skipLibCheck (they do not pass
    // strict checks, and tfjs-backend-webgpu brings an older @webgpu/types); ours are checked above.
    mkdirSync(join(app, 'tfjs'));
    writeFileSync(join(app, 'tfjs', 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, module: 'nodenext', target: 'es2022', skipLibCheck: true, types: [], outDir: '../out-tfjs' },
    }));
    writeFileSync(join(app, 'tfjs', 'tfjs.ts'), `
import { AdaptiveFastfood, fastfood, fwht } from 'deepfried/tfjs';
export const layer: AdaptiveFastfood = new AdaptiveFastfood({ units: 10, seed: 1 });
console.log(typeof fastfood, typeof fwht, layer.getClassName());
`);
    for (const p of [app, join(app, 'tfjs')]) {
      const check = spawnSync(tsc, ['-p', p], { encoding: 'utf8' });
      expect(check.status, check.stdout + check.stderr).toBe(0);
    }
    const load = spawnSync(process.execPath, [join(app, 'out', 'main.js')], { encoding: 'utf8' });
    expect(load.status, load.stderr).toBe(0);
    expect(load.stdout.trim()).toBe('function function function function');
    const tfjs = spawnSync(process.execPath, [join(app, 'out-tfjs', 'tfjs.js')], { encoding: 'utf8' });
    expect(tfjs.status, tfjs.stderr).toBe(0);
    expect(tfjs.stdout.trim()).toBe('function function AdaptiveFastfood');
  }, 120_000);
});
