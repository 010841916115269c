import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ErrorReason, TargetLabels, TargetReport } from './messages.js';

const LABELS = ['pid', 'comm', 'backend', 'cgroup'] as const;
type Labels = Record<(typeof LABELS)[number], string>;
const REASONS: ErrorReason[] = ['no_process', 'permission', 'capability', 'busy', 'scan_failed'];

const labelsOf = (l: TargetLabels): Labels => ({ pid: String(l.pid), comm: l.comm, backend: l.backend, cgroup: l.cgroup });
const sameLabels = (a: Labels, b: Labels) => LABELS.every((k) => a[k] === b[k]);

/**
 * The exporter's registry. Per-target series carry pid, comm, backend and (for --cgroup targets) cgroup. A target that exits or cannot
 * be tracked keeps only `dirtytrack_up 0` (its last rates would be stale); an exited one loses that too
 * after `graceMs`, so Prometheus sees its series end.
 */
export class ServeMetrics {
  readonly registry = new Registry();
  private readonly current = new Map<number, { labels: Labels; removeAt?: number }>();

  private readonly up = this.gauge('dirtytrack_up', 'Whether the target is tracked (1) or not: exited, or it cannot be tracked (0).');
  private readonly dirtyPages = this.gauge('dirtytrack_dirty_pages', 'Pages the target wrote during the last round.');
  private readonly rate = this.gauge('dirtytrack_dirty_bytes_per_second', 'Bytes of pages the target dirtied per second during the last round.');
  private readonly workingSet = this.gauge('dirtytrack_working_set_pages', 'Pages written in any round of the sliding window (--window).');
  private readonly hotSet = this.gauge('dirtytrack_hot_set_pages', 'Pages written in every round of the sliding window (--window).');
  private readonly converges = this.gauge('dirtytrack_precopy_converges', 'Whether pre-copy migration at --bandwidth would converge within the downtime budget (1) or not (0).');
  private readonly downtime = this.gauge('dirtytrack_precopy_downtime_seconds', 'Estimated stop-and-copy downtime of pre-copy migration at --bandwidth.');
  private readonly scanDuration = new Histogram({
    name: 'dirtytrack_scan_duration_seconds', help: 'Time the tracker spent on one scan-and-reset of the target.', labelNames: LABELS,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry],
  });
  private readonly pause = this.counter('dirtytrack_target_pause_seconds_total', 'Time the target was stopped (SIGSTOP) for scans; 0 for the uffd-wp backend.', LABELS);
  private readonly rounds = this.counter('dirtytrack_rounds_total', 'Rounds (scan-and-reset) completed on the target.', LABELS);
  private readonly errors = this.counter('dirtytrack_errors_total', 'Targets that could not be tracked or scanned, by reason.', ['reason']);
  private readonly perTarget = [this.up, this.dirtyPages, this.rate, this.workingSet, this.hotSet, this.converges, this.downtime, this.scanDuration, this.pause, this.rounds];

  constructor(private readonly graceMs: number, private readonly now = () => Date.now()) {
    collectDefaultMetrics({ register: this.registry });
    for (const reason of REASONS) this.errors.inc({ reason }, 0); // present from the start: rate() needs a zero
  }

  private gauge(name: string, help: string) {
    return new Gauge({ name, help, labelNames: LABELS, registers: [this.registry] });
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]) {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** Make `labels` the target's one identity: series under its old labels (another backend, comm) go. */
  private identify(l: TargetLabels): Labels {
    const labels = labelsOf(l);
    const old = this.current.get(l.pid);
    if (old && !sameLabels(old.labels, labels)) this.drop(old.labels, true);
    this.current.set(l.pid, { labels });
    return labels;
  }

  private drop(labels: Labels, all: boolean): void {
    for (const m of this.perTarget) if (all || m !== this.up) m.remove(labels);
  }

  apply(reports: readonly TargetReport[]): void {
    for (const r of reports) {
      if (r.kind === 'gone') {
        const labels = this.current.get(r.labels.pid)?.labels ?? labelsOf(r.labels);
        this.drop(labels, false);
        this.up.set(labels, 0);
        this.current.set(r.labels.pid, { labels, removeAt: this.now() + this.graceMs });
        continue;
      }
      const labels = this.identify(r.labels);
      if (r.kind === 'armed') {
        this.up.set(labels, 1);
      } else if (r.kind === 'error') {
        this.errors.inc({ reason: r.reason });
        this.drop(labels, false);
        this.up.set(labels, 0);
        if (r.final) this.current.set(r.labels.pid, { labels, removeAt: this.now() + this.graceMs });
      } else {
        this.up.set(labels, 1);
        this.dirtyPages.set(labels, r.dirtyPages);
        this.rate.set(labels, r.dirtyBytesPerSec);
        this.workingSet.set(labels, r.workingSetPages);
        this.hotSet.set(labels, r.hotSetPages);
        this.scanDuration.observe(labels, r.scanSeconds);
        this.pause.inc(labels, r.pauseSeconds);
        this.rounds.inc(labels);
        if (r.precopy) {
          this.converges.set(labels, r.precopy.converges ? 1 : 0);
          this.downtime.set(labels, r.precopy.downtimeSeconds);
        }
      }
    }
    this.sweep();
  }

  /** Remove the series of targets whose grace time is over. */
  sweep(): void {
    const t = this.now();
    for (const [pid, s] of this.current) {
      if (s.removeAt !== undefined && t >= s.removeAt) {
        this.drop(s.labels, true);
        this.current.delete(pid);
      }
    }
  }

  async text(): Promise<string> {
    this.sweep();
    return this.registry.metrics();
  }
}
