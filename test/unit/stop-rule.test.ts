import { describe, expect, it } from 'vitest';
import { converged, type RoundCounts } from '../../src/watch/stop-rule.js';

const rule = { tolerance: 0.05, stable: 3 };
/** Rounds whose working set is already known: nothing new after the first. */
const steadySet = (counts: number[]): RoundCounts[] => counts.map((d, i) => ({ dirtyPages: d, newPages: i === 0 ? d : 0 }));
/** First round at which the rule fires (1-based), or 0. */
const firesAt = (rounds: RoundCounts[]) => { for (let i = 1; i <= rounds.length; i++) if (converged(rounds.slice(0, i), rule)) return i; return 0; };

describe('stop rule', () => {
  it('steady: converges once stable + 1 rounds agree', () => {
    expect(firesAt(steadySet([1000, 1000, 1000, 1000, 1000]))).toBe(4);
  });
  it('noisy within tolerance: converges', () => {
    expect(firesAt(steadySet([1000, 1020, 990, 1010, 1000]))).toBe(4);
  });
  it('noise beyond tolerance: does not converge', () => {
    expect(firesAt(steadySet([1000, 1100, 900, 1100, 900, 1100]))).toBe(0);
  });
  it('slow drift below tolerance per round but beyond it across the window: does not converge', () => {
    expect(firesAt(steadySet([1000, 1030, 1060, 1090, 1120, 1150]))).toBe(0);
  });
  it('growing count: never converges', () => {
    expect(firesAt(steadySet([100, 200, 300, 400, 500, 600, 700]))).toBe(0);
  });
  it('oscillating: never converges', () => {
    expect(firesAt(steadySet([1000, 500, 1000, 500, 1000, 500, 1000]))).toBe(0);
  });
  it('converges after a phase change once the new level holds', () => {
    expect(firesAt(steadySet([1000, 1000, 200, 200, 200, 200]))).toBe(6);
  });
  it('a growing heap (same count, all pages new each round) never converges', () => {
    expect(firesAt(Array.from({ length: 10 }, () => ({ dirtyPages: 500, newPages: 500 })))).toBe(0);
  });
  it('a working set still being discovered delays convergence until new pages stop', () => {
    const rounds = [1000, 1000, 1000, 1000, 1000, 1000].map((d, i) => ({ dirtyPages: d, newPages: [1000, 600, 300, 10, 0, 0][i] }));
    expect(firesAt(rounds)).toBe(6);
  });
  it('an idle process converges at zero', () => {
    expect(firesAt(steadySet([0, 0, 0, 0]))).toBe(4);
  });
  it('one page of jitter on a tiny count is not a change', () => {
    expect(firesAt(steadySet([3, 4, 3, 4]))).toBe(4);
  });
  it('stable = 1 needs two rounds', () => {
    expect(converged(steadySet([10]), { tolerance: 0.05, stable: 1 })).toBe(false);
    expect(converged(steadySet([10, 10]), { tolerance: 0.05, stable: 1 })).toBe(true);
  });
});
