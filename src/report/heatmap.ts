/**
 * Address × time heatmap of a watch: collect each round's scans, then draw them (bucket rule in
 * heatmap-grid.ts, drawing in heatmap-svg.ts). Keeps every round's dirty runs until the picture is drawn,
 * up to a budget; past it, written pages are counted per block of pages instead (heatmap-coarsen.ts).
 */
import type { ScanResult } from '../types.js';
import { heatmapOf, type HeatLimits, type HeatProcess, type HeatRound, type HeatRun } from './heatmap-grid.js';
import { heatmapSvg } from './heatmap-svg.js';
import { coarsenRegion } from './heatmap-coarsen.js';

export { heatmapGrid, heatmapLayout, heatmapOf, gridFromJson, gridToJson, regionLabel, HEAT_LIMITS } from './heatmap-grid.js';
export type { HeatGrid, HeatLayout, HeatRegion, HeatRound, HeatRun } from './heatmap-grid.js';
export { heatmapSvg, type HeatPanel } from './heatmap-svg.js';

/** One scan as one process of a heatmap round (key pid:N, as the watch loop keys its page sets). */
export function heatProcess(scan: ScanResult, label = `pid ${scan.pid}`): HeatProcess {
  return {
    key: `pid:${scan.pid}`,
    label,
    regions: scan.regions.map((r) => ({ start: r.region.start, end: r.region.end, path: r.region.path, perms: r.region.perms, runs: r.runs })),
  };
}

/** Runs a recorder keeps before it counts per block: 16 bytes each, 24 once counted. */
export const HEAT_RUN_BUDGET = 4_000_000;

/** Collects a watch's rounds for the heatmap: add(intervalMs, scans) from the loop's onRound. */
export class HeatmapRecorder {
  private readonly rounds: HeatRound[] = [];
  private pageSize = 0;
  private stored = 0;
  /** Pages per counting block: 1 while within the budget (every run kept as it was scanned). */
  granularity = 1;

  constructor(private readonly budget = HEAT_RUN_BUDGET) {}

  add(intervalMs: number, scans: ScanResult | ScanResult[]): void {
    const list = Array.isArray(scans) ? scans : [scans];
    if (list.length) this.pageSize ||= list[0].pageSize;
    const round = { intervalMs, processes: list.map((s) => heatProcess(s)) };
    this.rounds.push(round);
    this.stored += this.coarsen(round);
    while (this.stored > this.budget) {
      this.granularity *= 4;
      this.stored = this.rounds.reduce((a, r) => a + this.coarsen(r), 0);
      if (this.granularity > 2 ** 40) break; // every mapping is one block: nothing left to merge
    }
  }

  /** Count the round's runs per block of the current granularity; returns the runs it keeps. */
  private coarsen(round: HeatRound): number {
    let n = 0;
    const ps = BigInt(this.pageSize || 4096);
    for (const p of round.processes) {
      if (this.granularity > 1) p.regions = p.regions.map((r) => coarsenRegion(r, Number(r.start / ps), Number((r.end + ps - 1n) / ps), this.granularity));
      for (const r of p.regions) n += r.runs.length / 2;
    }
    return n;
  }

  get size(): number {
    return this.rounds.length;
  }

  run(): HeatRun {
    return { pageSize: this.pageSize || 4096, rounds: this.rounds };
  }

  svg(title: string, limits?: HeatLimits): string {
    const note = this.granularity > 1 ? `more dirty runs than the recorder keeps: written pages counted per ${this.granularity}-page block (shared out in proportion where a block straddles two rows)` : undefined;
    return heatmapSvg([{ title: 'pages written per round', grid: heatmapOf(this.run(), limits) }], { title, note });
  }
}
