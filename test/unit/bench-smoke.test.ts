// The benchmark runs end to end in its quick form and writes valid JSON and a report. No timing
// assertions: absolute times are the benchmark's business, not a test's.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'deepfried-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench --quick', () => {
  it('finishes and writes valid JSON and a markdown report', () => {
    const json = join(dir, 'bench.json'), report = join(dir, 'REPORT.md');
    const r = spawnSync('npm', ['run', '--silent', 'bench', '--', '--quick', '--json', json, '--report', report], {
      encoding: 'utf8', timeout: 170_000, env: { ...process.env },
    });
    if (r.status !== 0) throw new Error(`bench exited with ${r.status ?? r.signal}:\n${(r.stdout ?? '').slice(-3000)}\n${(r.stderr ?? '').slice(-3000)}`);
    const res = JSON.parse(readFileSync(json, 'utf8'));
    expect(res.meta.quick).toBe(true);
    expect(typeof res.adapter.description).toBe('string');
    expect(res.baselines.copy.gbps).toBeGreaterThan(0);
    expect(res.baselines.fma.gflops).toBeGreaterThan(0);
    expect(res.groups.map((g: { name: string }) => g.name)).toEqual(['fwht', 'fastfood', 'fastfood-vs-dense', 'conv', 'pool', 'linear', 'train-step', 'overhead']);
    for (const g of res.groups) {
      expect(g.status, `${g.name}: ${g.note ?? ''}`).toBe('ok');
      for (const row of g.rows) expect(['ok', 'over device limit', 'skipped'], `${g.name} ${row.op} ${row.shape}: ${row.error ?? ''}`).toContain(row.status);
    }
    expect(res.targets).toHaveLength(8);
    expect(readFileSync(report, 'utf8')).toContain('## Baselines');
    expect(existsSync(join(dir, 'REPORT-fastfood-vs-dense.svg'))).toBe(true);
    expect(r.stdout).toContain('targets:');
  }, 180_000);

  it('rejects a filter that matches no group', () => {
    const r = spawnSync('npm', ['run', '--silent', 'bench', '--', '--quick', '--filter', 'no-such-group'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('no benchmark group matches');
  }, 60_000);
});
