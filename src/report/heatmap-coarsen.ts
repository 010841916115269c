/**
 * Keep a long heatmap recording within memory: count a mapping's written pages per g-page block
 * (blocks aligned to page numbers divisible by g) instead of keeping every run. A counted block becomes
 * one run with its count in `written`; neighbouring fully written blocks stay one run. Counts stay exact;
 * only where a block straddles the edge of a heatmap row is its count shared out in proportion.
 */
import type { HeatRegion } from './heatmap-grid.js';

/** Pages written in run i of a region (the whole run unless the region carries counts). */
export function writtenIn(r: HeatRegion, i: number): number {
  return r.written ? r.written[i] : r.runs[2 * i + 1] - r.runs[2 * i];
}

/** The region's runs counted per g-page block, clipped to the region (g a power of two). */
export function coarsenRegion(r: HeatRegion, startPage: number, endPage: number, g: number): HeatRegion {
  if (r.runs.length === 0) return r;
  const runs: number[] = [], written: number[] = [];
  let block = -1, count = 0;
  const flush = () => {
    if (block < 0 || count <= 0) return;
    const s = Math.max(startPage, block * g), e = Math.min(endPage, (block + 1) * g);
    const n = runs.length;
    // A full block right after a full run extends it: a dense region stays a few runs.
    if (count >= e - s && n > 0 && runs[n - 1] === s && written[n / 2 - 1] === runs[n - 1] - runs[n - 2]) {
      runs[n - 1] = e;
      written[n / 2 - 1] += e - s;
    } else {
      runs.push(s, e);
      written.push(Math.min(Math.round(count * 1e6) / 1e6, e - s)); // float sums of whole pages
    }
  };
  for (let i = 0; i < r.runs.length / 2; i++) {
    const a = r.runs[2 * i], z = r.runs[2 * i + 1];
    const density = writtenIn(r, i) / (z - a);
    for (let b = Math.floor(a / g); b * g < z; b++) {
      if (b !== block) {
        flush();
        block = b;
        count = 0;
      }
      count += (Math.min(z, (b + 1) * g) - Math.max(a, b * g)) * density;
    }
  }
  flush();
  return { ...r, runs: Float64Array.from(runs), written: Float64Array.from(written) };
}
