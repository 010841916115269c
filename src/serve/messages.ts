import type { BackendChoice } from '../backends/select.js';
import type { TargetSpec } from './targets.js';

/** What the exporter hands its scan worker (structured-cloned: plain data only). */
export interface ServeConfig {
  targets: TargetSpec[];
  intervalMs: number;
  backend: BackendChoice;
  /** undefined: as `watch` — freeze for the soft-dirty backends when permitted, never for uffd-wp. */
  freeze?: boolean;
  /** Rounds in the working-set / hot-set window. */
  windowRounds: number;
  /** Pids never tracked: the exporter and its ancestors. */
  exclude: number[];
  /** Pre-copy estimate, when --bandwidth is given. */
  bandwidthBytesPerSec?: number;
  downtimeMs: number;
}

/** Why a target is not tracked: the `reason` label of dirtytrack_errors_total (a closed set). */
export type ErrorReason = 'no_process' | 'permission' | 'capability' | 'busy' | 'scan_failed';

export interface TargetLabels {
  pid: number;
  comm: string;
  backend: string;
  /** cgroup v2 path for targets found through --cgroup, else '' (Prometheus drops empty labels). */
  cgroup: string;
}

/** One target's news from one round of the worker. */
export type TargetReport =
  /** Tracking armed (first clear done): up, no rate yet. */
  | { kind: 'armed'; labels: TargetLabels }
  | {
      kind: 'round';
      labels: TargetLabels;
      dirtyPages: number;
      pageSize: number;
      dirtyBytesPerSec: number;
      workingSetPages: number;
      hotSetPages: number;
      scanSeconds: number;
      pauseSeconds: number;
      precopy?: { converges: boolean; downtimeSeconds: number };
    }
  /** Could not be tracked (or a scan failed): up 0, one error counted; retried later unless `final` (no such process). */
  | { kind: 'error'; labels: TargetLabels; reason: ErrorReason; message: string; final: boolean }
  /** Exited: up 0 for the grace time, then its series go. */
  | { kind: 'gone'; labels: TargetLabels };

export type WorkerMessage =
  | { type: 'round'; reports: TargetReport[] }
  /** Every backend closed, after a stop request; `failures` lists targets whose close failed. */
  | { type: 'closed'; failures: string[] };

export type MainMessage = { type: 'stop' };
