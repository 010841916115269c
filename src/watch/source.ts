import { setTimeout as delay } from 'node:timers/promises';
import { PAGE_SIZE } from '../kernel/info.js';
import { freeze, thaw } from '../proc/freeze.js';
import { ProcessImage, statmPages, type ImageState } from '../proc/image.js';
import { concatRuns } from '../ranges.js';
import type { Backend, BackendName, RegionSelector, Runs, ScanResult } from '../types.js';

/**
 * One round's scan as the loop counts it: page sets by key (one process: `pid:N`; a group: one per
 * process plus `shm:<dev>:<ino>` per shared object, deduplicated by the source). Working and hot
 * sets are per-key unions and intersections, summed.
 */
export interface RoundScan {
  pageSize: number;
  dirtyPages: number;
  sets: Map<string, Runs>;
}

/** What a watch clears and scans: one process through a Backend, or (targets/) a group of them. */
export interface RoundSource<Raw = ScanResult> {
  readonly backend: BackendName;
  /** The process watched (a group: the one it was named by). */
  readonly pid: number;
  clear(): void;
  /** Scan and reset in one step; `raw` goes to onRound untouched (heatmaps, the exporter). */
  scan(opts: { includeUnpopulated?: boolean }): { scan: RoundScan; raw: Raw };
  /** Whether the tracked image still runs: checked around every round and after a failure. */
  state(): ImageState;
  /** What a migration's first round would send; 0 when unknown. */
  residentBytes(): number;
  /** Stop tracking and release everything; quiet when the target is gone, throws when a live one keeps tracking. */
  close(): void;
}

/** Stops the target for a scan-and-reset that is not atomic (soft-dirty); a no-op when not freezing. */
export interface Freezer {
  readonly active: boolean;
  freeze(): void;
  thaw(): void;
}

/** Time in milliseconds, and a wait that an AbortSignal cuts short (rejects). */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Number(process.hrtime.bigint()) / 1e6,
  sleep: (ms, signal) => delay(ms, undefined, { signal }),
};

export function processFreezer(pid: number, active: boolean): Freezer {
  return { active, freeze: () => active && freeze(pid), thaw: () => active && thaw(pid) };
}

/** Resident bytes of pid, 0 when unreadable. */
export const residentBytes = (pid: number) => (statmPages(pid)?.resident ?? 0) * PAGE_SIZE;

/** The key of a single process's page set. */
export const pidKey = (pid: number) => `pid:${pid}`;

/** A RoundScan of one process's scan: its regions' runs as one set. */
export function roundScanOf(scan: ScanResult): RoundScan {
  return { pageSize: scan.pageSize, dirtyPages: scan.dirtyPages, sets: new Map([[pidKey(scan.pid), concatRuns(scan.regions.map((r) => r.runs))]]) };
}

/** One process tracked by `backend`; the source owns the backend and closes it. */
export function backendSource(backend: Backend, select?: RegionSelector): RoundSource<ScanResult> {
  let image: ProcessImage;
  try {
    image = new ProcessImage(backend.pid);
  } catch (err) {
    backend.close();
    throw err;
  }
  return {
    backend: backend.name,
    pid: backend.pid,
    clear: () => backend.clear(),
    scan(opts) {
      const raw = backend.scan({ reset: true, includeUnpopulated: opts.includeUnpopulated, select });
      return { scan: roundScanOf(raw), raw };
    },
    state: () => image.state(),
    residentBytes: () => residentBytes(backend.pid),
    close() {
      try {
        backend.close();
      } catch (err) {
        // Gone: nothing left to release. Still running: the target keeps what could not be removed.
        if (image.state() === 'running') throw err;
      } finally {
        image.close();
      }
    },
  };
}
