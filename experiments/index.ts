import { backendsExperiment } from './backends.js';
import { container } from './container.js';
import { convergence } from './convergence.js';
import { criuPrecopy } from './criu-precopy.js';
import { liveMigration } from './live-migration.js';
import { lostWrites } from './lost-writes.js';
import { nodeRuntime } from './node-runtime.js';
import { patterns } from './patterns.js';
import { scanAccuracy } from './scan-accuracy.js';
import { scenarios } from './scenarios.js';
import { stopTime } from './stop-time.js';
import { strideWriter } from './stride-writer.js';
import { vmDirtyRate } from './vm-dirty-rate.js';
import type { Environment } from './lib/report.js';

/** What one run measured in one environment (kernel + backend), saved as results/data/<name>.<env>.json. */
export interface Measured<D = unknown> {
  env: Environment;
  data: D;
}

export interface Rendered {
  markdown: string;
  /** One or two sentences with the numbers, for results/README.md. */
  answer: string;
  /** False when the measured accuracy misses what the tracker promises. */
  ok: boolean;
  /** Extra files beside the Markdown (plots). */
  files?: Record<string, string>;
}

export interface Experiment<D = any> {
  name: string;
  question: string;
  /** Also measured inside the lab kernels by `experiment -- all` (kernel behaviour differs there). */
  kernels?: boolean;
  /** Needs CRIU: always measured in the deb13 lab guest with `--criu` (lab/criu-assets.ts). */
  criu?: boolean;
  measure(): Promise<D>;
  /** Render every environment measured so far, host first. */
  render(runs: Array<Measured<D>>): Promise<Rendered>;
}

export const EXPERIMENTS: Experiment[] = [strideWriter, scanAccuracy, scenarios, backendsExperiment, convergence, stopTime, patterns, lostWrites, nodeRuntime, vmDirtyRate, container, liveMigration, criuPrecopy];
