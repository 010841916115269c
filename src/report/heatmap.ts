/**
 * Address × time heatmap of a watch: collect each round's scans, then draw them (bucket rule in
 * heatmap-grid.ts, drawing in heatmap-svg.ts). Keeps every round's dirty runs until the picture is drawn.
 */
import type { ScanResult } from '../types.js';
import { heatmapOf, type HeatLimits, type HeatProcess, type HeatRound, type HeatRun } from './heatmap-grid.js';
import { heatmapSvg } from './heatmap-svg.js';

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

/** Collects a watch's rounds for the heatmap: add(intervalMs, scans) from the loop's onRound. */
export class HeatmapRecorder {
  private readonly rounds: HeatRound[] = [];
  private pageSize = 0;

  add(intervalMs: number, scans: ScanResult | ScanResult[]): void {
    const list = Array.isArray(scans) ? scans : [scans];
    if (list.length) this.pageSize ||= list[0].pageSize;
    this.rounds.push({ intervalMs, processes: list.map((s) => heatProcess(s)) });
  }

  get size(): number {
    return this.rounds.length;
  }

  run(): HeatRun {
    return { pageSize: this.pageSize || 4096, rounds: this.rounds };
  }

  svg(title: string, limits?: HeatLimits): string {
    return heatmapSvg([{ title: 'pages written per round', grid: heatmapOf(this.run(), limits) }], { title });
  }
}
