// The phase plans of the row kernels (kernels/fwht.wgsl.ts): every index bit butterflied exactly
// once, subgroup lanes used only where they save a transpose.
import { describe, expect, it } from 'vitest';
import { hadamardPlan, rowGeometry } from '../../kernels/fwht.wgsl.js';

describe('hadamardPlan', () => {
  it('butterflies every index bit exactly once, in both directions, with and without lanes', () => {
    for (let k = 1; k <= 13; k++) {
      for (const maxRegisters of [2, 4, 8, 32, 128]) {
        const g = rowGeometry(2 ** k, { maxRegisters });
        for (const dir of ['SC', 'CS'] as const) {
          for (const lanes of [0, 4, 8, 32, 64]) {
            const plan = hadamardPlan(g, dir, lanes);
            const bits = plan.flatMap((p) => [...p.regs.map((m) => p.lo + m), ...p.lanes.map((b) => (b < p.lo ? b : b + g.lr))]);
            const what = `d=${2 ** k} R=${g.R} T=${g.T} ${dir} lanes ${lanes}`;
            expect(bits.sort((a, b) => a - b), what).toEqual(Array.from({ length: k }, (_, i) => i));
            for (const p of plan) for (const b of p.lanes) expect(2 ** b < Math.min(lanes, g.T), `${what}: lane bit ${b}`).toBe(true);
            const plain = hadamardPlan(g, dir, 0);
            expect(plan[0]!.lo, `${what}: start layout`).toBe(plain[0]!.lo);
            expect(plan.length, `${what}: phases`).toBeLessThanOrEqual(plain.length);
            if (plan.length === plain.length) expect(plan, what).toEqual(plain);
          }
        }
      }
    }
  });

  it('takes the transposes out where the lanes cover them', () => {
    const g = rowGeometry(1024, { maxRegisters: 32 }); // T = 32, R = 32: layouts S (lo 5) and C (lo 0)
    expect(hadamardPlan(g, 'SC', 0).map((p) => p.lo)).toEqual([5, 0]);
    expect(hadamardPlan(g, 'SC', 4).map((p) => p.lo)).toEqual([5, 0]); // 2 lane bits do not cover 5
    expect(hadamardPlan(g, 'SC', 32)).toEqual([{ lo: 5, regs: [0, 1, 2, 3, 4], lanes: [0, 1, 2, 3, 4] }]);
    expect(hadamardPlan(g, 'CS', 32)).toEqual([{ lo: 0, regs: [0, 1, 2, 3, 4], lanes: [0, 1, 2, 3, 4] }]);
    const g8k = rowGeometry(8192, { maxRegisters: 32 }); // three phases, two transposes
    expect(hadamardPlan(g8k, 'SC', 0).length).toBe(3);
    expect(hadamardPlan(g8k, 'SC', 32).length).toBe(2);
    expect(hadamardPlan(rowGeometry(128, { maxRegisters: 32 }), 'SC', 4).length).toBe(1); // SwiftShader, d = 128
  });
});
