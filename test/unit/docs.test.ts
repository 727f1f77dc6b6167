// The API reference: `npm run docs` (typedoc with typedoc.json) must document every public export
// of the three entry points with no warning. Runs the CLI with --emit none (nothing is written),
// and checks that typedoc.json keeps the validation that makes a missing comment an error.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');
const typedocBin = join(repo, 'node_modules', 'typedoc', 'bin', 'typedoc');
const ANSI = /\x1b\[[0-9;]*m/g;

function typedoc(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [typedocBin, ...args], { cwd: repo, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        done({ code, output: `${stdout}\n${stderr}`.replace(ANSI, '') });
      });
  });
}

describe('API reference (typedoc)', () => {
  it('typedoc.json validates every public export', () => {
    const cfg = JSON.parse(readFileSync(join(repo, 'typedoc.json'), 'utf8'));
    expect(cfg.entryPoints).toEqual(['src/index.ts', 'src/kernels.ts', 'src/tfjs.ts']);
    expect(cfg.treatWarningsAsErrors).toBe(true);
    expect(cfg.validation).toMatchObject({ notExported: true, invalidLink: true, notDocumented: true });
    expect(cfg.excludeNotDocumented ?? false).toBe(false);
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
    expect(pkg.scripts?.docs, 'package.json scripts.docs').toBe('typedoc');
  });

  it('generates with no warnings', async () => {
    const { code, output } = await typedoc(['--emit', 'none', '--treatWarningsAsErrors']);
    const problems = output.split('\n').filter((l) => /\[(warning|error)\]/.test(l));
    expect(problems.length, `typedoc exited ${code}:\n${problems.join('\n')}`).toBe(0);
    expect(code, output).toBe(0);
  }, 180_000);
});
