import { setTimeout as delay } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { openBackend, type BackendChoice } from '../backends/select.js';
import { DirtyTrackError } from '../errors.js';
import { freeze, processGone, thaw, canSignal } from '../proc/freeze.js';
import { PAGE_SIZE } from '../kernel/info.js';
import { converged, type StopRule } from './stop-rule.js';
import { countIntersection, intersectRanges, mergeRanges } from '../ranges.js';
import type { Backend, BackendName, PageRange, ScanResult } from '../types.js';

export type StopReason = 'converged' | 'max-rounds' | 'timeout' | 'exited' | 'interrupted';

export interface WatchOptions extends StopRule {
  intervalMs: number;
  maxRounds: number;
  timeoutMs: number;
  backend?: BackendChoice;
  /** Stop the target during scan-and-reset. Default: on for soft-dirty backends when permitted, off for uffd-wp (atomic). */
  freeze?: boolean;
  includeUnpopulated?: boolean;
  signal?: AbortSignal;
  onRound?: (round: WatchRound, scan: ScanResult) => void;
  /**
   * Called right before and right after each reset (round 0: the first clear), inside the freeze when
   * freezing: the place to read the target's own ground truth, aligned with the tracker's windows.
   */
  beforeReset?: (round: number) => void;
  afterReset?: (round: number) => void;
}

export interface WatchRound {
  round: number;
  elapsedMs: number;        // since the first clear, at the end of this round's scan
  intervalMs: number;       // measured time the target ran between the two resets (freeze excluded)
  periodMs: number;         // wall time from the previous reset to this one (freeze included)
  dirtyPages: number;
  dirtyBytes: number;
  pagesPerSec: number;
  mibPerSec: number;
  newPages: number;         // not dirty in any earlier round: the working set grows by these
  overlapPages: number;     // also dirty in the previous round: the hot set
  workingSetPages: number;  // union of all rounds so far
  scanMs: number;           // the tracker's own time for scan-and-reset
  pauseMs: number;          // how long the target was frozen (0 without freeze)
}

export interface WatchSummary {
  done: true;
  reason: StopReason;
  rounds: number;
  workingSetPages: number;
  steadyPagesPerSec: number;
  hotSetPages: number;      // dirty in every round of the final window
  pid: number;
  backend: BackendName;
  freeze: boolean;
  intervalMs: number;
  tolerance: number;
  stable: number;
  residentBytes: number;
  trackerMs: number;        // total scan-and-reset time
  pauseMs: number;          // total time the target was frozen
  error?: string;
}

/** Resident bytes of pid from /proc/PID/statm, 0 when unreadable. */
function residentBytes(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE_SIZE;
  } catch {
    return 0;
  }
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

/** Dirty pages of a scan as one sorted range list (regions are disjoint and sorted by address). */
function allDirty(scan: ScanResult): PageRange[] {
  return scan.regions.flatMap((r) => r.dirty);
}

/**
 * Clear, wait, scan — repeatedly, until the stop rule fires or another reason ends it. Rounds are
 * reported as they complete, so whatever ends the watch, nothing measured is lost.
 */
export async function watch(pid: number, opts: WatchOptions): Promise<{ rounds: WatchRound[]; summary: WatchSummary }> {
  const backend: Backend = openBackend(pid, opts.backend ?? 'auto');
  const frozen = opts.freeze ?? (backend.name !== 'uffd-wp' && canSignal(pid));
  const rounds: WatchRound[] = [];
  const window: PageRange[][] = [];
  let union: PageRange[] = [];
  let prev: PageRange[] = [];
  let trackerMs = 0;
  let pauseMs = 0;
  let reason: StopReason | undefined;
  let error: string | undefined;
  let rss = residentBytes(pid);

  const t0 = now();
  // The start of the target's current tracking window: the thaw after a frozen reset, else the reset's midpoint.
  let windowStart: number;
  let lastResetAt = now();
  if (frozen) freeze(pid);
  try {
    opts.beforeReset?.(0);
    const c0 = now();
    backend.clear();
    const c1 = now();
    opts.afterReset?.(0);
    windowStart = frozen ? now() : (c0 + c1) / 2;
  } finally {
    if (frozen) thaw(pid);
  }

  try {
    for (let n = 1; ; n++) {
      const wait = windowStart + opts.intervalMs - now();
      if (wait > 0) {
        try {
          await delay(wait, undefined, { signal: opts.signal });
        } catch {
          reason = 'interrupted';
          break;
        }
      }
      if (opts.signal?.aborted) { reason = 'interrupted'; break; }
      if (processGone(pid)) { reason = 'exited'; break; }

      const f0 = now();
      let scan: ScanResult;
      let s0: number, s1: number;
      try {
        if (frozen) freeze(pid);
        opts.beforeReset?.(n);
        s0 = now();
        scan = backend.scan({ reset: true, includeUnpopulated: opts.includeUnpopulated });
        s1 = now();
        opts.afterReset?.(n);
      } catch (err) {
        if (err instanceof DirtyTrackError && err.code === 'ESRCH') { reason = 'exited'; break; }
        throw err;
      } finally {
        if (frozen) thaw(pid);
      }
      const f1 = now();
      const periodMs = f0 - lastResetAt;
      lastResetAt = f0;
      const intervalMs = frozen ? f0 - windowStart : (s0 + s1) / 2 - windowStart;
      windowStart = frozen ? f1 : (s0 + s1) / 2;
      trackerMs += s1 - s0;
      if (frozen) pauseMs += f1 - f0;

      const dirty = allDirty(scan);
      const dirtyPages = scan.dirtyPages;
      const newPages = dirtyPages - countIntersection(dirty, union);
      const overlapPages = countIntersection(dirty, prev);
      union = mergeRanges(union.concat(dirty));
      prev = dirty;
      window.push(dirty);
      if (window.length > opts.stable + 1) window.shift();
      const round: WatchRound = {
        round: n,
        elapsedMs: s1 - t0,
        intervalMs,
        periodMs,
        dirtyPages,
        dirtyBytes: dirtyPages * scan.pageSize,
        pagesPerSec: dirtyPages / (intervalMs / 1000),
        mibPerSec: (dirtyPages * scan.pageSize) / (intervalMs / 1000) / 1048576,
        newPages,
        overlapPages,
        workingSetPages: union.reduce((a, [s, e]) => a + e - s, 0),
        scanMs: s1 - s0,
        pauseMs: frozen ? f1 - f0 : 0,
      };
      rounds.push(round);
      rss = residentBytes(pid) || rss;
      opts.onRound?.(round, scan);

      if (converged(rounds, opts)) { reason = 'converged'; break; }
      if (n >= opts.maxRounds) { reason = 'max-rounds'; break; }
      if (now() - t0 >= opts.timeoutMs) { reason = 'timeout'; break; }
    }
  } catch (err) {
    // Unexpected failure mid-watch: still summarise what was measured, then let the caller report it.
    reason = 'exited';
    error = err instanceof Error ? err.message : String(err);
    if (!(err instanceof DirtyTrackError)) throw err;
  } finally {
    try {
      backend.close();
    } catch {
      // the target may be gone: nothing left to release
    }
  }

  const tail = rounds.slice(-(opts.stable + 1));
  const tailSeconds = tail.reduce((a, r) => a + r.intervalMs, 0) / 1000;
  const summary: WatchSummary = {
    done: true,
    reason: reason ?? 'exited',
    rounds: rounds.length,
    workingSetPages: rounds.at(-1)?.workingSetPages ?? 0,
    steadyPagesPerSec: tailSeconds > 0 ? tail.reduce((a, r) => a + r.dirtyPages, 0) / tailSeconds : 0,
    hotSetPages: window.length ? window.reduce((a, b) => intersectRanges(a, b)).reduce((a, [s, e]) => a + e - s, 0) : 0,
    pid,
    backend: backend.name,
    freeze: frozen,
    intervalMs: opts.intervalMs,
    tolerance: opts.tolerance,
    stable: opts.stable,
    residentBytes: rss,
    trackerMs,
    pauseMs,
    ...(error ? { error } : {}),
  };
  return { rounds, summary };
}
