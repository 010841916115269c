import { countRuns, intersectRuns, unionRuns } from '../ranges.js';
import type { Runs } from '../types.js';

/**
 * The last `size` rounds of one target: the working set is the pages written in any of them, the hot
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
