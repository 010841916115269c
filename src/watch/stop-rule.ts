/**
 * The convergence test of pre-copy migration: stop when the dirty count per interval is nearly constant
 * over a working set that has stopped growing.
 *
 * With tolerance t and stable s, round n converges when, over the window of the last s + 1 rounds:
 *   1. max(dirty) − min(dirty) ≤ max(t × mean(dirty), 1 page), and
 *   2. each of the last s rounds touched at most max(t × its dirty count, 1 page) pages new to the run.
 * Rule 2 keeps a process that writes the same number of fresh pages every interval (a growing heap)
 * from passing as converged: its dirty set never repeats, so each round still adds to what must be copied.
 */
export interface StopRule {
  tolerance: number;   // relative, e.g. 0.05
  stable: number;      // consecutive rounds within tolerance
}

export interface RoundCounts {
  dirtyPages: number;
  newPages: number;
}

export function withinTolerance(window: readonly RoundCounts[], rule: StopRule): boolean {
  const counts = window.map((r) => r.dirtyPages);
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  const spread = Math.max(...counts) - Math.min(...counts);
  if (spread > Math.max(rule.tolerance * mean, 1)) return false;
  return window.slice(1).every((r) => r.newPages <= Math.max(rule.tolerance * r.dirtyPages, 1));
}

/** Whether the rounds so far (oldest first) satisfy the stop rule at the last one. */
export function converged(rounds: readonly RoundCounts[], rule: StopRule): boolean {
  if (rounds.length < rule.stable + 1) return false;
  return withinTolerance(rounds.slice(-(rule.stable + 1)), rule);
}
