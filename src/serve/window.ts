import type { Runs, ScanResult } from '../types.js';

/** A scan's dirty pages as one sorted run list (regions are sorted and disjoint). */
export function scanRuns(scan: ScanResult): Runs {
  let n = 0;
  for (const r of scan.regions) n += r.runs.length;
  const out = new Float64Array(n);
  let at = 0;
  for (const r of scan.regions) {
    out.set(r.runs, at);
    at += r.runs.length;
  }
  return out;
}

function countRuns(runs: Runs): number {
  let n = 0;
  for (let i = 0; i < runs.length; i += 2) n += runs[i + 1] - runs[i];
  return n;
}

/** Union of two sorted run lists, merged. */
export function unionRuns(a: Runs, b: Runs): Runs {
  const out = new Float64Array(a.length + b.length);
  let i = 0, j = 0, k = 0;
  while (i < a.length || j < b.length) {
    let s: number, e: number;
    if (j >= b.length || (i < a.length && a[i] <= b[j])) { s = a[i]; e = a[i + 1]; i += 2; } else { s = b[j]; e = b[j + 1]; j += 2; }
    if (k > 0 && s <= out[k - 1]) out[k - 1] = Math.max(out[k - 1], e);
    else { out[k++] = s; out[k++] = e; }
  }
  return out.subarray(0, k);
}

/** Intersection of two sorted, merged run lists. */
export function intersectRuns(a: Runs, b: Runs): Runs {
  const out = new Float64Array(Math.max(0, a.length + b.length - 2));
  let i = 0, j = 0, k = 0;
  while (i < a.length && j < b.length) {
    const s = Math.max(a[i], b[j]), e = Math.min(a[i + 1], b[j + 1]);
    if (e > s) { out[k++] = s; out[k++] = e; }
    if (a[i + 1] < b[j + 1]) i += 2; else j += 2;
  }
  return out.subarray(0, k);
}

/**
 * The last `rounds` rounds of one target: the working set is the pages written in any of them, the hot
 * set the pages written in every one. Memory is bounded by the window, not by how long the exporter runs.
 */
export class SlidingWindow {
  private readonly rounds: Runs[] = [];

  constructor(readonly size: number) {}

  push(runs: Runs): { workingSetPages: number; hotSetPages: number } {
    this.rounds.push(runs);
    if (this.rounds.length > this.size) this.rounds.shift();
    let union = this.rounds[0], hot = this.rounds[0];
    for (let i = 1; i < this.rounds.length; i++) {
      union = unionRuns(union, this.rounds[i]);
      hot = intersectRuns(hot, this.rounds[i]);
    }
    return { workingSetPages: countRuns(union), hotSetPages: countRuns(hot) };
  }
}
