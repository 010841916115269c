import type { PrecopyEstimate } from '../watch/precopy.js';
import type { WatchRound, WatchSummary } from '../watch/loop.js';

const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;

/** One JSON line per round of `watch --json` (and --out). */
export function roundJson(r: WatchRound) {
  return {
    round: r.round,
    elapsedMs: round1(r.elapsedMs),
    intervalMs: round1(r.intervalMs),
    periodMs: round1(r.periodMs),
    dirtyPages: r.dirtyPages,
    dirtyBytes: r.dirtyBytes,
    pagesPerSec: Math.round(r.pagesPerSec),
    newPages: r.newPages,
    overlapPages: r.overlapPages,
    scanMs: round2(r.scanMs),
    pauseMs: round2(r.pauseMs),
  };
}

/** The last JSON line of a watch: why it stopped and what it measured. */
export function summaryJson(s: WatchSummary, est: PrecopyEstimate | undefined, pageSize: number) {
  return {
    done: true,
    reason: s.reason,
    rounds: s.rounds,
    workingSetPages: s.workingSetPages,
    steadyPagesPerSec: Math.round(s.steadyPagesPerSec),
    hotSetPages: s.hotSetPages,
    backend: s.backend,
    freeze: s.freeze,
    trackerMs: round1(s.trackerMs),
    pauseMs: round1(s.pauseMs),
    ...(est ? { precopy: { ...est, finalPages: Math.round(est.finalBytes / pageSize) } } : {}),
    ...(s.interruptedBy ? { interruptedBy: s.interruptedBy } : {}),
    ...(s.error ? { error: s.error } : {}),
    ...(s.leftInTarget ? { leftInTarget: s.leftInTarget } : {}),
  };
}
