import { openBackend, type BackendChoice } from '../backends/select.js';
import { freezeByDefault } from '../proc/freeze.js';
import { countCommonPages, countRuns, intersectRuns, unionRuns } from '../ranges.js';
import { converged, type StopRule } from './stop-rule.js';
import { backendSource, processFreezer, systemClock, type Clock, type Freezer, type RoundScan, type RoundSource } from './source.js';
import type { BackendName, RegionSelector, Runs, ScanResult } from '../types.js';

/**
 * Why a watch ended. `exec`: the target replaced its memory image, so tracking of the old one ended;
 * `failed`: an error (kept in the result, its message in the summary).
 */
export type StopReason = 'converged' | 'max-rounds' | 'timeout' | 'exited' | 'exec' | 'interrupted' | 'failed';

export interface LoopOptions<Raw = ScanResult> extends StopRule {
  intervalMs: number;
  maxRounds: number;
  timeoutMs: number;
  includeUnpopulated?: boolean;
  /** Ends the watch with reason `interrupted`; a string reason (e.g. 'SIGTERM') is kept as `interruptedBy`. */
  signal?: AbortSignal;
  onRound?: (round: WatchRound, scan: Raw) => void;
  /**
   * Called right before and right after each reset (round 0: the first clear), inside the freeze when
   * freezing: the place to read the target's own ground truth, aligned with the tracker's windows.
   */
  beforeReset?: (round: number) => void;
  afterReset?: (round: number) => void;
}

export interface WatchOptions extends LoopOptions<ScanResult> {
  backend?: BackendChoice;
  /** Stop the target during scan-and-reset. Default: on for soft-dirty backends when permitted, off for uffd-wp (atomic). */
  freeze?: boolean;
  /** Only these parts of the mappings are read (--region, --vm). */
  select?: RegionSelector;
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
  interruptedBy?: string;   // the abort reason, when it was a string
  error?: string;
  /** Why tracking could not be removed from the (still running) target; `dirtytrack detach` can, with the rights. */
  leftInTarget?: string;
}

export interface WatchResult {
  rounds: WatchRound[];
  summary: WatchSummary;
  /** What ended a `failed` watch (a DirtyTrackError keeps its code: the CLI exits with it). */
  error?: unknown;
}

const MIB = 1024 * 1024;

type PageSets = Map<string, Runs>;

function countSets(sets: PageSets): number {
  let n = 0;
  for (const runs of sets.values()) n += countRuns(runs);
  return n;
}

function countCommon(a: PageSets, b: PageSets): number {
  let n = 0;
  for (const [key, runs] of a) {
    const other = b.get(key);
    if (other) n += countCommonPages(runs, other);
  }
  return n;
}

function addSets(into: PageSets, add: PageSets): void {
  for (const [key, runs] of add) into.set(key, unionRuns(into.get(key) ?? new Float64Array(0), runs));
}

function intersectSets(a: PageSets, b: PageSets): PageSets {
  const out: PageSets = new Map();
  for (const [key, runs] of a) {
    const other = b.get(key);
    if (other) out.set(key, intersectRuns(runs, other));
  }
  return out;
}

/** Watch one process: open its backend, freeze it around non-atomic resets, and run the loop. */
export async function watch(pid: number, opts: WatchOptions): Promise<WatchResult> {
  const source = backendSource(openBackend(pid, opts.backend ?? 'auto'), opts.select);
  const freezer = processFreezer(pid, opts.freeze ?? freezeByDefault(source.backend, [pid]));
  return runWatch(source, freezer, systemClock, opts);
}

/**
 * Clear, wait, scan — repeatedly, until the stop rule fires or another reason ends it. Rounds are
 * reported as they complete, so whatever ends the watch, nothing measured is lost; the source is
 * closed on every path. Throws only when the first clear fails (no round to summarise).
 */
export async function runWatch<Raw>(source: RoundSource<Raw>, freezer: Freezer, clock: Clock, opts: LoopOptions<Raw>): Promise<WatchResult> {
  const rounds: WatchRound[] = [];
  const window: PageSets[] = [];
  const union: PageSets = new Map();
  let prev: PageSets = new Map();
  let trackerMs = 0;
  let pauseMs = 0;
  let reason: StopReason | undefined;
  let error: unknown;
  let leftInTarget: string | undefined;
  let rss = source.residentBytes();

  const t0 = clock.now();
  // The start of the target's current tracking window: the thaw after a frozen reset, else the reset's midpoint.
  let windowStart: number;
  let lastResetAt = clock.now();
  try {
    freezer.freeze();
    try {
      opts.beforeReset?.(0);
      const c0 = clock.now();
      source.clear();
      const c1 = clock.now();
      opts.afterReset?.(0);
      windowStart = freezer.active ? clock.now() : (c0 + c1) / 2;
    } finally {
      freezer.thaw();
    }
  } catch (err) {
    source.close();
    throw err;
  }

  const ended = (): StopReason | undefined => {
    const state = source.state();
    return state === 'running' ? undefined : state;
  };

  try {
    for (let n = 1; ; n++) {
      const wait = windowStart + opts.intervalMs - clock.now();
      if (wait > 0) {
        try {
          await clock.sleep(wait, opts.signal);
        } catch {
          reason = 'interrupted';
          break;
        }
      }
      if (opts.signal?.aborted) { reason = 'interrupted'; break; }
      if ((reason = ended())) break;

      const f0 = clock.now();
      let s0: number, s1: number;
      let result: { scan: RoundScan; raw: Raw };
      freezer.freeze();
      try {
        opts.beforeReset?.(n);
        s0 = clock.now();
        result = source.scan({ includeUnpopulated: opts.includeUnpopulated });
        s1 = clock.now();
        opts.afterReset?.(n);
      } finally {
        freezer.thaw();
      }
      // An exec during the scan leaves a round that mixes two images: drop it.
      if ((reason = ended())) break;
      const f1 = clock.now();
      const periodMs = f0 - lastResetAt;
      lastResetAt = f0;
      const intervalMs = freezer.active ? f0 - windowStart : (s0 + s1) / 2 - windowStart;
      windowStart = freezer.active ? f1 : (s0 + s1) / 2;
      trackerMs += s1 - s0;
      if (freezer.active) pauseMs += f1 - f0;

      const { scan, raw } = result;
      const dirty = scan.sets;
      const newPages = countSets(dirty) - countCommon(dirty, union);
      const overlapPages = countCommon(dirty, prev);
      addSets(union, dirty);
      prev = dirty;
      window.push(dirty);
      if (window.length > opts.stable + 1) window.shift();
      const seconds = intervalMs / 1000;
      const round: WatchRound = {
        round: n,
        elapsedMs: s1 - t0,
        intervalMs,
        periodMs,
        dirtyPages: scan.dirtyPages,
        dirtyBytes: scan.dirtyPages * scan.pageSize,
        pagesPerSec: scan.dirtyPages / seconds,
        mibPerSec: (scan.dirtyPages * scan.pageSize) / seconds / MIB,
        newPages,
        overlapPages,
        workingSetPages: countSets(union),
        scanMs: s1 - s0,
        pauseMs: freezer.active ? f1 - f0 : 0,
      };
      rounds.push(round);
      rss = source.residentBytes() || rss;
      opts.onRound?.(round, raw);

      if (converged(rounds, opts)) { reason = 'converged'; break; }
      if (n >= opts.maxRounds) { reason = 'max-rounds'; break; }
      if (clock.now() - t0 >= opts.timeoutMs) { reason = 'timeout'; break; }
    }
  } catch (err) {
    // The target going away is not a failure of the watch; anything else keeps its error.
    let state: StopReason | undefined;
    try {
      state = ended();
    } catch {
      state = undefined;
    }
    reason = state ?? 'failed';
    if (reason === 'failed') error = err;
  } finally {
    try {
      source.close();
    } catch (err) {
      leftInTarget = err instanceof Error ? err.message : String(err);
    }
  }

  const tail = rounds.slice(-(opts.stable + 1));
  const tailSeconds = tail.reduce((a, r) => a + r.intervalMs, 0) / 1000;
  const abortReason = opts.signal?.reason;
  const summary: WatchSummary = {
    done: true,
    reason: reason ?? 'failed',
    rounds: rounds.length,
    workingSetPages: rounds.at(-1)?.workingSetPages ?? 0,
    steadyPagesPerSec: tailSeconds > 0 ? tail.reduce((a, r) => a + r.dirtyPages, 0) / tailSeconds : 0,
    hotSetPages: window.length ? countSets(window.reduce(intersectSets)) : 0,
    pid: source.pid,
    backend: source.backend,
    freeze: freezer.active,
    intervalMs: opts.intervalMs,
    tolerance: opts.tolerance,
    stable: opts.stable,
    residentBytes: rss,
    trackerMs,
    pauseMs,
    ...(reason === 'interrupted' && typeof abortReason === 'string' ? { interruptedBy: abortReason } : {}),
    ...(error !== undefined ? { error: error instanceof Error ? error.message : String(error) } : {}),
    ...(leftInTarget ? { leftInTarget } : {}),
  };
  return { rounds, summary, ...(error !== undefined ? { error } : {}) };
}
