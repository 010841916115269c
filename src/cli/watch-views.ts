/**
 * The optional views of `watch`: --regions N (the N mappings with most dirty pages beside each round's
 * bar, and which hold the working and hot sets in the summary) and --heatmap FILE (address × time SVG).
 */
import { writeFileSync } from 'node:fs';
import { HeatmapRecorder } from '../report/heatmap.js';
import { RegionTally, topRegions } from '../report/watch-regions.js';
import type { WatchRound, WatchSummary } from '../watch/loop.js';
import type { ScanResult } from '../types.js';
import { parseCount } from './args.js';
import { BAR_WIDTH } from '../report/watch-text.js';
import { checkOutputPath } from './output.js';

export const WATCH_VIEWS_USAGE = `
  --regions N      per round, the N mappings with most dirty pages; in the summary, which
                   mappings hold the working set and the hot set
  --heatmap FILE   write an address × time heatmap (SVG) of every round to FILE`;

export interface WatchViews {
  /** Record the round; returns its line with the top regions after the bar (padded to full width). */
  round(r: WatchRound, scans: ScanResult | ScanResult[], line: string): string;
  summaryLines(): string[];
  /** Write the heatmap; returns an error line instead of throwing (what was measured is summarised anyway: exit 7). */
  finish(s: WatchSummary, target?: string): string | undefined;
}

export function watchViews(values: { regions?: string; heatmap?: string }, stable: number): WatchViews {
  const n = values.regions === undefined ? 0 : parseCount(values.regions, '--regions');
  const file = values.heatmap;
  if (file !== undefined) checkOutputPath(file, '--heatmap'); // fail before the watch, leaving no empty file
  const tally = n > 0 ? new RegionTally(stable + 1) : undefined;
  const heat = file !== undefined ? new HeatmapRecorder() : undefined;
  return {
    round(r, scans, line) {
      const list = Array.isArray(scans) ? scans : [scans];
      heat?.add(r.intervalMs, list);
      if (!tally) return line;
      tally.add(list);
      const bar = line.length - line.replace(/█+$/, '').length;
      return `${line}${' '.repeat(Math.max(0, BAR_WIDTH - bar))}  ${topRegions(list, n)}`;
    },
    summaryLines: () => tally?.summaryLines(n) ?? [],
    finish(s, target) {
      if (!heat || file === undefined) return undefined;
      try {
        writeFileSync(file, heat.svg(`dirtytrack watch ${target ?? s.pid} · backend ${s.backend} · every ${s.intervalMs} ms · stopped: ${s.reason}`));
        return undefined;
      } catch (err) {
        return `cannot write heatmap ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`;
      }
    },
  };
}
