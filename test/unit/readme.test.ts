// The README's "Use" example runs as written (imported from this checkout's src/ instead of the
// package), and every relative link in README.md and docs/*.md points to a file that exists.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const readme = readFileSync(join(repo, 'README.md'), 'utf8');

/** The first ```ts block of the "## Use" section. */
function useExample(md: string): string {
  const start = md.search(/^## Use\s*$/m);
  if (start < 0) throw new Error('README.md has no "## Use" section');
  const rest = md.slice(start + 1);
  const next = rest.search(/^## /m);
  const section = next < 0 ? rest : rest.slice(0, next);
  const block = /^```ts\n([\s\S]*?)^```\s*$/m.exec(section);
  if (!block) throw new Error('the "## Use" section has no ```ts block');
  return block[1]!;
}

/** The targets of the markdown links [text](target) outside code blocks and code spans. */
function linkTargets(md: string): string[] {
  const prose = md.replace(/^```[\s\S]*?^```\s*$/gm, '').replace(/`[^`]*`/g, '');
  return [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
}

describe('README', () => {
  it('runs the "Use" example', () => {
    const code = useExample(readme);
    const src = (sub: string) => pathToFileURL(join(repo, 'src', sub)).href;
    const rewritten = code.replace(/from\s+(['"])deepfried(\/kernels)?\1/g, (_m, _q, kernels) => `from '${src(kernels ? 'kernels.ts' : 'index.ts')}'`);
    expect(rewritten).not.toBe(code); // it imports the package, and we redirected it
    expect(rewritten).not.toMatch(/from\s+['"]deepfried/);
    const dir = mkdtempSync(join(tmpdir(), 'deepfried-readme-'));
    try {
      const file = join(dir, 'use.mts');
      writeFileSync(file, rewritten);
      const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: repo, encoding: 'utf8', timeout: 240_000 });
      expect(r.error, String(r.error)).toBeUndefined();
      expect(r.status, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
      expect(r.stdout.trim()).not.toBe(''); // its console.log lines ran
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 270_000);

  it('quotes the examples faithfully (each quoted line is in the example file, which test/unit/examples.test.ts runs)', () => {
    const files = ['README.md', ...readdirSync(join(repo, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
    let quoted = 0;
    for (const file of files) {
      const md = readFileSync(join(repo, file), 'utf8');
      for (const m of md.matchAll(/<!-- quoted from (\S+) -->\s*\n```\w*\n([\s\S]*?)^```/gm)) {
        const source = readFileSync(join(repo, m[1]!), 'utf8').split('\n').map((l) => l.trim());
        for (const line of m[2]!.split('\n').map((l) => l.trim().replace(/;$/, '')).filter(Boolean)) {
          expect(source.some((l) => l.includes(line)), `${file} quotes "${line}" from ${m[1]}`).toBe(true);
        }
        quoted++;
      }
    }
    expect(quoted).toBeGreaterThanOrEqual(2);
  });

  it('links only to files that exist', () => {
    const docs = readdirSync(join(repo, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f));
    expect(docs.length).toBeGreaterThan(0);
    const readmeLinks = linkTargets(readme);
    for (const doc of docs) expect(readmeLinks, `README.md links to ${doc}`).toContain(doc);
    const broken: string[] = [];
    for (const file of ['README.md', ...docs]) {
      for (const target of linkTargets(readFileSync(join(repo, file), 'utf8'))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue; // URLs, anchors
        const path = decodeURIComponent(target.replace(/[#?].*$/, ''));
        if (!existsSync(resolve(repo, dirname(file), path))) broken.push(`${file}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
