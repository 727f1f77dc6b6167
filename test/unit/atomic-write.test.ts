// Checkpoints are replaced whole or not at all: a process killed while writing leaves the previous
// file as it was (examples/files.ts writeFileAtomic, used by --save and npm run table).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { writeFileAtomic } from '../../examples/files.js';

const repo = resolve(import.meta.dirname, '../..');

it('a child killed while writing a checkpoint leaves the previous one intact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deepfried-atomic-'));
  const path = join(dir, 'model.safetensors');
  const previous = new Uint8Array(4096).map((_, i) => i % 251);
  await writeFileAtomic(path, previous);
  expect(readFileSync(path)).toEqual(Buffer.from(previous));
  // the child writes 512 MiB over it; we kill it as soon as it has started
  const code = `import { writeFileAtomic } from ${JSON.stringify(join(repo, 'examples/files.ts'))};
process.stdout.write('start\\n');
await writeFileAtomic(${JSON.stringify(path)}, new Uint8Array(512 * 2 ** 20).fill(7));
process.stdout.write('done\\n');`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((done) => child.stdout.on('data', (d) => { out += d; if (out.includes('start')) done(); }));
  await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  expect(out).not.toContain('done'); // killed mid-write, not after it
  expect(readFileSync(path)).toEqual(Buffer.from(previous)); // an in-place write would have been cut short here
}, 60_000);
