/**
 * `watch --regions N`: per round, the N mappings with the most dirty pages; at the end, which mappings
 * (by label: file name, [heap], [stack], [anon]…) hold the working set and the hot set.
 */
import { intersectRanges, mergeRanges, runsToRanges } from '../ranges.js';
import type { PageRange, RegionResult, ScanResult } from '../types.js';
import { regionLabel } from './heatmap-grid.js';

/** A mapping's name in these lists: its label, anonymous ones with their address (a process has many). */
function regionName(r: RegionResult, pid: number, multi: boolean): string {
  const label = regionLabel(r.region.path);
  return `${multi ? `${pid}:` : ''}${label}${label === '[anon]' ? `@0x${r.region.start.toString(16)}` : ''}`;
}

/** "[anon]@0x7f3a1c000000 1520, [heap] 129, [stack] 6". */
export function topRegions(scans: ScanResult[], n: number): string {
  const all = scans.flatMap((s) => s.regions.filter((r) => r.dirtyPages > 0).map((r) => ({ r, pid: s.pid })));
  all.sort((a, b) => b.r.dirtyPages - a.r.dirtyPages);
  return all.slice(0, n).map(({ r, pid }) => `${regionName(r, pid, scans.length > 1)} ${r.dirtyPages}`).join(', ') || 'no dirty page';
}

function byLabel(scans: ScanResult[]): Map<string, PageRange[]> {
  const out = new Map<string, PageRange[]>();
  for (const s of scans) for (const r of s.regions) {
    if (r.runs.length === 0) continue;
    const key = regionName(r, s.pid, scans.length > 1);
    const list = out.get(key);
    if (list) for (const x of runsToRanges(r.runs)) list.push(x);
    else out.set(key, runsToRanges(r.runs));
  }
  for (const [k, v] of out) out.set(k, mergeRanges(v));
  return out;
}

const pagesIn = (ranges: readonly PageRange[]) => ranges.reduce((a, [s, e]) => a + e - s, 0);

/**
 * Working set (union of every round) and hot set (dirty in each of the last `window` rounds, as the
 * watch summary counts it) per label, accumulated round by round.
 */
export class RegionTally {
  private readonly union = new Map<string, PageRange[]>();
  private readonly recent: Array<Map<string, PageRange[]>> = [];

  constructor(private readonly window: number) {}

  add(scans: ScanResult[]): void {
    const round = byLabel(scans);
    for (const [k, v] of round) this.union.set(k, mergeRanges((this.union.get(k) ?? []).concat(v)));
    this.recent.push(round);
    if (this.recent.length > this.window) this.recent.shift();
  }

  workingSet(): Array<[string, number]> {
    return [...this.union].map(([k, v]): [string, number] => [k, pagesIn(v)]).sort((a, b) => b[1] - a[1]);
  }

  hotSet(): Array<[string, number]> {
    if (this.recent.length === 0) return [];
    const [first, ...rest] = this.recent;
    const out: Array<[string, number]> = [];
    for (const [k, v] of first) {
      const hot = rest.reduce((acc, m) => intersectRanges(acc, m.get(k) ?? []), v);
      if (hot.length) out.push([k, pagesIn(hot)]);
    }
    return out.sort((a, b) => b[1] - a[1]);
  }

  /** Two summary lines: "[anon]@0x… 3900 pages (94 %), [heap] 200 (5 %), … and 3 more". */
  summaryLines(n: number): string[] {
    const line = (list: Array<[string, number]>) => {
      const total = list.reduce((a, [, p]) => a + p, 0);
      if (total === 0) return 'none';
      const shown = list.slice(0, n).map(([k, p], i) => `${k} ${p}${i === 0 ? ' pages' : ''} (${Math.round((100 * p) / total)} %)`);
      return shown.join(', ') + (list.length > n ? `, and ${list.length - n} more` : '');
    };
    return [`working set by region  ${line(this.workingSet())}`, `hot set by region      ${line(this.hotSet())}`];
  }
}
