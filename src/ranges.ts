import type { PageRange, Runs } from './types.js';

/** Coalesce sorted-or-not page numbers into sorted half-open ranges. */
export function coalesce(pages: Iterable<number>): PageRange[] {
  const sorted = Float64Array.from(pages).sort();
  const out: PageRange[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last && p <= last[1]) {
      if (p === last[1]) last[1] = p + 1;
    } else {
      out.push([p, p + 1]);
    }
  }
  return out;
}

/** Sort and merge overlapping or touching ranges. */
export function mergeRanges(ranges: readonly PageRange[]): PageRange[] {
  const sorted = ranges.filter(([s, e]) => e > s).map(([s, e]) => [s, e] as PageRange).sort((a, b) => a[0] - b[0]);
  const out: PageRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push(r);
  }
  return out;
}

export function countPages(ranges: readonly PageRange[]): number {
  let n = 0;
  for (const [s, e] of ranges) n += e - s;
  return n;
}

/** No runs (length 0, so it cannot be written: safe to share). */
const NO_RUNS: Runs = new Float64Array(0);

/** Appends pages in ascending order, extending the last run when contiguous: O(1) per page, no page list kept. */
export class RangeBuilder {
  private buf = NO_RUNS; // most regions of a scan have no dirty page: nothing allocated for them
  private used = 0; // numbers in buf: two per run
  count = 0;

  add(start: number, end = start + 1): void {
    if (end <= start) return;
    const n = this.used;
    if (n > 0 && start <= this.buf[n - 1]) {
      const last = this.buf[n - 1];
      if (end > last) {
        this.count += end - Math.max(start, last);
        this.buf[n - 1] = end;
      }
      return;
    }
    if (n === this.buf.length) {
      const grown = new Float64Array(Math.max(64, 2 * n));
      grown.set(this.buf);
      this.buf = grown;
    }
    this.buf[n] = start;
    this.buf[n + 1] = end;
    this.used = n + 2;
    this.count += end - start;
  }

  /** The runs so far, exactly sized. */
  runs(): Runs {
    return this.used === 0 ? NO_RUNS : this.buf.slice(0, this.used);
  }
}

export function runsToRanges(runs: Runs): PageRange[] {
  const out: PageRange[] = new Array(runs.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = [runs[2 * i], runs[2 * i + 1]];
  return out;
}

export function rangesToRuns(ranges: readonly PageRange[]): Runs {
  const out = new Float64Array(2 * ranges.length);
  ranges.forEach(([s, e], i) => {
    out[2 * i] = s;
    out[2 * i + 1] = e;
  });
  return out;
}

export function countRuns(runs: Runs): number {
  let n = 0;
  for (let i = 0; i < runs.length; i += 2) n += runs[i + 1] - runs[i];
  return n;
}

/** Union of several run lists (several walks of one region), each sorted and merged. */
export function mergeRuns(...lists: Runs[]): Runs {
  return lists.reduce(unionRuns, NO_RUNS);
}

/** Expand ranges to a Set of page numbers (tests and ground-truth comparison only: memory grows with pages). */
export function pageSet(ranges: readonly PageRange[]): Set<number> {
  const s = new Set<number>();
  for (const [a, b] of ranges) for (let p = a; p < b; p++) s.add(p);
  return s;
}

/** Intersect ranges with [start, end). */
export function clipRanges(ranges: readonly PageRange[], start: number, end: number): PageRange[] {
  const out: PageRange[] = [];
  for (const [a, b] of ranges) {
    const s = Math.max(a, start), e = Math.min(b, end);
    if (e > s) out.push([s, e]);
  }
  return out;
}

/** Pages in both sorted, merged range lists (two-pointer walk). */
export function countIntersection(a: readonly PageRange[], b: readonly PageRange[]): number {
  let i = 0, j = 0, n = 0;
  while (i < a.length && j < b.length) {
    const s = Math.max(a[i][0], b[j][0]), e = Math.min(a[i][1], b[j][1]);
    if (e > s) n += e - s;
    if (a[i][1] < b[j][1]) i++;
    else j++;
  }
  return n;
}

/** Intersection of two sorted, merged range lists. */
export function intersectRanges(a: readonly PageRange[], b: readonly PageRange[]): PageRange[] {
  const out: PageRange[] = [];
  let i = 0, j = 0;
  while (i < a.length && j < b.length) {
    const s = Math.max(a[i][0], b[j][0]), e = Math.min(a[i][1], b[j][1]);
    if (e > s) out.push([s, e]);
    if (a[i][1] < b[j][1]) i++;
    else j++;
  }
  return out;
}

/* Set operations on runs (each list sorted and merged): one linear pass, no pair objects. */

/** Pages in a or b. */
export function unionRuns(a: Runs, b: Runs): Runs {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new RangeBuilder();
  let i = 0, j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i] <= b[j])) {
      out.add(a[i], a[i + 1]);
      i += 2;
    } else {
      out.add(b[j], b[j + 1]);
      j += 2;
    }
  }
  return out.runs();
}

/** Pages in both a and b. */
export function intersectRuns(a: Runs, b: Runs): Runs {
  const out = new RangeBuilder();
  forEachCommon(a, b, (s, e) => out.add(s, e));
  return out.runs();
}

/** How many pages a and b have in common. */
export function countCommonPages(a: Runs, b: Runs): number {
  let n = 0;
  forEachCommon(a, b, (s, e) => { n += e - s; });
  return n;
}

function forEachCommon(a: Runs, b: Runs, each: (start: number, end: number) => void): void {
  let i = 0, j = 0;
  while (i < a.length && j < b.length) {
    const s = Math.max(a[i], b[j]), e = Math.min(a[i + 1], b[j + 1]);
    if (e > s) each(s, e);
    if (a[i + 1] < b[j + 1]) i += 2;
    else j += 2;
  }
}

/** Runs of ascending, disjoint lists (the regions of one scan) as one list; touching runs merge. */
export function concatRuns(lists: Iterable<Runs>): Runs {
  const out = new RangeBuilder();
  for (const runs of lists) for (let i = 0; i < runs.length; i += 2) out.add(runs[i], runs[i + 1]);
  return out.runs();
}
