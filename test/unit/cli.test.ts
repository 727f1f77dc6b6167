// Bad command-line options exit with code 2 and one line that names the problem, before any GPU
// work starts (no stack trace, nothing trained).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const run = (script: string, args: string[]) => spawnSync('npx', ['tsx', script, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('CLI option errors', () => {
  const cases: [string, string[], RegExp][] = [
    ['examples/train.ts', ['--lr', '-1'], /Option '--lr' argument is ambiguous/],
    ['examples/train.ts', ['--lr=-1'], /--lr must be a positive number, got -1/],
    ['examples/train.ts', ['--bogus'], /Unknown option '--bogus'/],
    ['examples/train.ts', ['--model', 'vgg'], /unknown model "vgg"/],
    ['examples/table.ts', ['--lr', '-1'], /Option '--lr' argument is ambiguous/],
    ['examples/table.ts', ['--epochs', '0'], /--epochs must be a positive integer, got 0/],
    ['examples/table.ts', ['--models', 'reference', '--dropout', '0.5'], /--dropout is for the Fastfood nets/],
  ];
  for (const [script, args, message] of cases) {
    it(`${script} ${args.join(' ')}`, () => {
      const r = run(script, args);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }, 60_000);
  }
});
