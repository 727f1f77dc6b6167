// Repetition, statistics and the time budget of one measurement.
import type { Stat } from './types.js';

export function stat(xs: readonly number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { median, min: s[0]!, max: s[n - 1]!, n };
}

export const now = (): number => performance.now();

export interface Budget {
  /** Stop repeating once this much time (ms) was spent and minReps were done. */
  ms: number;
  minReps: number;
  maxReps: number;
  /** Calls whose warm-up took longer than this get `slowReps` timed repetitions only. */
  slowMs: number;
  slowReps: number;
  /** Calls faster than this (ms) are batched into one repetition of several calls. */
  batchBelowMs: number;
  /** A second warm-up call to estimate the time without pipeline compilation. */
  secondWarmup: boolean;
}

export const FULL_BUDGET: Budget = { ms: 2500, minReps: 3, maxReps: 15, slowMs: 8000, slowReps: 2, batchBelowMs: 5, secondWarmup: true };
export const QUICK_BUDGET: Budget = { ms: 150, minReps: 2, maxReps: 3, slowMs: 300, slowReps: 1, batchBelowMs: 1, secondWarmup: false };

/** How many calls to put in one repetition so that a repetition lasts about batchBelowMs. */
export function innerCalls(warmMs: number, b: Budget): number {
  return warmMs >= b.batchBelowMs ? 1 : Math.min(32, Math.max(1, Math.ceil(b.batchBelowMs / Math.max(warmMs, 0.05))));
}

export function repsFor(warmMs: number, b: Budget): number {
  if (warmMs > b.slowMs) return b.slowReps;
  return Math.max(b.minReps, Math.min(b.maxReps, Math.floor(b.ms / Math.max(warmMs, 0.01))));
}
