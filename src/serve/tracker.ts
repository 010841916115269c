import { openBackend } from '../backends/select.js';
import { DirtyTrackError } from '../errors.js';
import { freeze, freezeByDefault, processGone, thaw } from '../proc/freeze.js';
import { estimatePrecopy } from '../watch/precopy.js';
import type { Backend } from '../types.js';
import type { ErrorReason, ServeConfig, TargetLabels, TargetReport } from './messages.js';
import { Discovery, type Discovered } from './targets.js';
import { readStat } from '../proc/process.js';
import { SlidingWindow } from './window.js';
import { concatRuns } from '../ranges.js';
import { residentBytes } from '../watch/source.js';

/** A target that failed is tried again after interval × 2^failures, at most this long. */
export const MAX_RETRY_MS = 60_000;

interface Tracked {
  backend: Backend;
  labels: TargetLabels;
  startTime: number | undefined;
  frozen: boolean;
  window: SlidingWindow;
  rates: Array<{ pages: number; seconds: number }>;
  /** Start of the current tracking window: the thaw after a frozen reset, else the reset's midpoint. */
  windowStart: number;
}

export function reasonOf(err: unknown): ErrorReason {
  const code = err instanceof DirtyTrackError ? err.code : undefined;
  switch (code) {
    case 'ESRCH': return 'no_process';
    case 'EACCES': case 'EPERM': return 'permission';
    case 'ENOSOFTDIRTY': case 'ENOTSUP': return 'capability';
    case 'EBUSY': case 'ELOCKED': return 'busy'; // traced, or tracked by another dirtytrack
    default: return 'scan_failed';
  }
}

/**
 * Every target of one exporter, rounds without end: each round re-discovers the targets, scans (and
 * atomically or frozen, resets) the tracked ones, arms new ones and retires the exited. Synchronous:
 * it runs in the scan worker, never on the thread that answers /metrics.
 */
export class Fleet {
  private readonly tracked = new Map<number, Tracked>();
  private readonly retry = new Map<number, { at: number; failures: number; labels: TargetLabels }>();
  /** Explicit pids that exited: their number is not followed to a new process. */
  private readonly ended = new Set<number>();
  private readonly discovery: Discovery;

  constructor(private readonly cfg: ServeConfig, private readonly now = () => performance.now()) {
    this.discovery = new Discovery(cfg.targets, new Set(cfg.exclude));
  }

  round(): TargetReport[] {
    const reports: TargetReport[] = [];
    const found = new Map(this.discovery.find().map((d) => [d.pid, d]));
    for (const [pid, t] of this.tracked) {
      if (!found.has(pid) || processGone(pid) || readStat(pid)?.startTime !== t.startTime) reports.push(this.retire(pid, t));
      else reports.push(this.scan(pid, t));
    }
    for (const [pid, r] of this.retry) {
      // A target that failed and then exited: its up 0 series go after the grace time, like any exit.
      if (!found.has(pid) || processGone(pid)) {
        this.retry.delete(pid);
        reports.push({ kind: 'gone', labels: r.labels });
      }
    }
    for (const d of found.values()) {
      if (this.tracked.has(d.pid) || this.ended.has(d.pid)) continue;
      const r = this.retry.get(d.pid);
      if (r && this.now() < r.at) continue;
      reports.push(this.arm(d));
    }
    return reports;
  }

  /** Close every backend: nothing stays armed in any target. Returns what could not be closed. */
  close(): string[] {
    const failures: string[] = [];
    for (const [pid, t] of this.tracked) {
      try {
        t.backend.close();
      } catch (err) {
        if (!processGone(pid)) failures.push(`${pid}: ${(err as Error).message}`);
      }
    }
    this.tracked.clear();
    return failures;
  }

  private explicit(pid: number): boolean {
    return this.cfg.targets.some((s) => s.kind === 'pid' && s.pid === pid);
  }

  private fail(labels: TargetLabels, err: unknown): TargetReport {
    const reason = reasonOf(err);
    const message = err instanceof Error ? err.message : String(err);
    const final = reason === 'no_process';
    if (final) {
      this.retry.delete(labels.pid);
      if (this.explicit(labels.pid)) this.ended.add(labels.pid);
    } else {
      const failures = (this.retry.get(labels.pid)?.failures ?? 0) + 1;
      this.retry.set(labels.pid, { at: this.now() + Math.min(this.cfg.intervalMs * 2 ** failures, MAX_RETRY_MS), failures, labels });
    }
    return { kind: 'error', labels, reason, message, final };
  }

  private arm(d: Discovered): TargetReport {
    const labels: TargetLabels = { pid: d.pid, comm: d.comm, backend: '', cgroup: d.cgroup };
    const startTime = readStat(d.pid)?.startTime;
    let backend: Backend | undefined;
    try {
      backend = openBackend(d.pid, this.cfg.backend);
      labels.backend = backend.name;
      const frozen = this.cfg.freeze ?? freezeByDefault(backend.name, [d.pid]);
      const t0 = this.now();
      if (frozen) freeze(d.pid);
      try {
        backend.clear();
      } finally {
        if (frozen) thaw(d.pid);
      }
      const windowStart = frozen ? this.now() : (t0 + this.now()) / 2;
      this.tracked.set(d.pid, { backend, labels, startTime, frozen, window: new SlidingWindow(this.cfg.windowRounds), rates: [], windowStart });
      this.retry.delete(d.pid);
      return { kind: 'armed', labels };
    } catch (err) {
      try { backend?.close(); } catch { /* gone or never armed */ }
      return this.fail(labels, err);
    }
  }

  private retire(pid: number, t: Tracked): TargetReport {
    this.tracked.delete(pid);
    if (this.explicit(pid)) this.ended.add(pid);
    try {
      t.backend.close();
    } catch {
      // exited: nothing left to disarm
    }
    return { kind: 'gone', labels: t.labels };
  }

  private scan(pid: number, t: Tracked): TargetReport {
    const f0 = this.now();
    let s0 = f0, s1 = f0;
    let scan, stopped = false;
    try {
      // A process found stopped (job control, a debugger) stays stopped: that time is not our pause.
      stopped = t.frozen && freeze(pid);
      try {
        s0 = this.now();
        scan = t.backend.scan({ reset: true });
        s1 = this.now();
      } finally {
        if (t.frozen) thaw(pid);
      }
    } catch (err) {
      if (processGone(pid) || readStat(pid)?.startTime !== t.startTime) return this.retire(pid, t);
      this.tracked.delete(pid);
      try { t.backend.close(); } catch { /* keep serving the others */ }
      // ESRCH from a live process: it called execve, and its old address space (with uffd-wp's
      // descriptor) went with it. Track the new program from now on; that is no error.
      if (err instanceof DirtyTrackError && err.code === 'ESRCH') return this.arm({ pid, comm: readStat(pid)?.comm ?? t.labels.comm, cgroup: t.labels.cgroup });
      return this.fail(t.labels, err);
    }
    const f1 = this.now();
    const seconds = ((t.frozen ? f0 : (s0 + s1) / 2) - t.windowStart) / 1000;
    t.windowStart = t.frozen ? f1 : (s0 + s1) / 2;
    const { workingSetPages, hotSetPages } = t.window.push(concatRuns(scan.regions.map((r) => r.runs)));
    t.rates.push({ pages: scan.dirtyPages, seconds });
    if (t.rates.length > this.cfg.windowRounds) t.rates.shift();
    const report: TargetReport = {
      kind: 'round',
      labels: t.labels,
      dirtyPages: scan.dirtyPages,
      pageSize: scan.pageSize,
      dirtyBytesPerSec: seconds > 0 ? (scan.dirtyPages * scan.pageSize) / seconds : 0,
      workingSetPages,
      hotSetPages,
      scanSeconds: (s1 - s0) / 1000,
      pauseSeconds: stopped ? (f1 - f0) / 1000 : 0,
    };
    if (this.cfg.bandwidthBytesPerSec) {
      // The steady rate over the window, as `watch` summarises it: one round is too noisy to plan on.
      const pages = t.rates.reduce((a, r) => a + r.pages, 0), secs = t.rates.reduce((a, r) => a + r.seconds, 0);
      const est = estimatePrecopy({
        residentBytes: residentBytes(pid),
        dirtyBytesPerSec: secs > 0 ? (pages * scan.pageSize) / secs : 0,
        workingSetBytes: workingSetPages * scan.pageSize,
        bandwidthBytesPerSec: this.cfg.bandwidthBytesPerSec,
        maxDowntimeMs: this.cfg.downtimeMs,
      });
      report.precopy = { converges: est.converges, downtimeSeconds: est.downtimeMs / 1000 };
    }
    return report;
  }
}
