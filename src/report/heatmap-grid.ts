/**
 * The address × time heatmap as numbers: which rows and columns the picture has, and the fraction of
 * each cell's pages written. Pure; heatmap-svg.ts draws the result.
 *
 * Bucket rule. Columns: one per round, or k consecutive rounds per column with k = ceil(rounds /
 * maxColumns). Rows: only mapped pages have rows (the gaps between regions are left out). Each mapping is
 * a band of its own while there are at most bandPerMappingUpTo of them (over all processes); beyond that,
 * mappings of one process that sit next to each other in the address space with the same label (path, or
 * [anon], [heap]…) share a band (a Node process has hundreds of small V8 heap mappings). One global scale, q pages per row, gives each band ceil(pages / q) rows; q is the smallest
 * that keeps the total height within maxRows, where a band that was written at some point is at least
 * minBandRows tall (a 33-page hot stack beside a 16 GiB heap stays visible) and any other at least one.
 * With more bands than that allows, the height is the sum of the minimums. A cell's value is written ÷
 * mapped pages over its rounds; NaN where nothing was mapped then (regions come and go). Read-only and
 * inaccessible mappings have no rows unless a write was reported in them.
 */
import { invalidArgument } from '../errors.js';
import type { Runs } from '../types.js';

/**
 * One mapping as one round's scan saw it; runs hold its dirty pages as page numbers. With `written`
 * (heatmap-coarsen.ts), run i stands for written[i] pages spread over it rather than all of its pages.
 */
export interface HeatRegion { start: bigint; end: bigint; path: string; perms: string; runs: Runs; written?: Float64Array }
/** One process (or any keyed set of mappings) in one round: one block of bands per key. */
export interface HeatProcess { key: string; label: string; regions: HeatRegion[] }
/** One round: its measured interval and what each process had mapped and written. */
export interface HeatRound { intervalMs: number; processes: HeatProcess[] }
export interface HeatRun { pageSize: number; rounds: HeatRound[] }

export interface HeatBand {
  process: string;
  label: string;
  /** Mappings merged into the band (distinct start addresses over the run). */
  regions: number;
  pages: number;
  written: boolean;
  firstRow: number;
  rows: number;
  bucketPages: number;
  /** Position and height in row units (height ≥ rows: the minimum band height). */
  top: number;
  height: number;
  /** Start address of the band's first page, hex. */
  start: string;
}
export interface HeatProcessBlock { key: string; label: string; top: number; height: number }
export interface HeatColumn { firstRound: number; rounds: number; t0Ms: number; t1Ms: number }
export interface HeatLayout {
  pageSize: number;
  rounds: number;
  roundsPerColumn: number;
  durationMs: number;
  rows: number;
  height: number;
  bands: HeatBand[];
  processes: HeatProcessBlock[];
  columns: HeatColumn[];
}
/** values[row * columns + column]: fraction written, NaN where nothing was mapped. */
export interface HeatGrid { layout: HeatLayout; values: Float64Array }

export interface HeatLimits { maxRows?: number; maxColumns?: number; minBandRows?: number; bandPerMappingUpTo?: number }
export const HEAT_LIMITS: Required<HeatLimits> = { maxRows: 200, maxColumns: 300, minBandRows: 3, bandPerMappingUpTo: 32 };

/** Band label of a mapping: file name without its directory, or the kernel's bracketed name, or [anon]. */
export function regionLabel(path: string): string {
  if (path === '') return '[anon]';
  if (path.startsWith('[')) return path.startsWith('[stack') ? '[stack]' : path;
  return path.slice(path.lastIndexOf('/') + 1);
}

interface Span { s: number; e: number; label: string; written: boolean; regions: number; band: number; base: number }
interface ProcessSpans { key: string; label: string; spans: Span[]; starts: Float64Array }

const included = (r: HeatRegion) => r.perms[1] === 'w' || r.runs.length > 0;

/** The address ranges of each process over the whole run, merged into labelled spans. */
function processSpans(runs: HeatRun[]): ProcessSpans[] {
  const byKey = new Map<string, { label: string; extents: Map<string, { s: number; e: number; label: string; written: boolean }> }>();
  for (const run of runs) {
    const ps = BigInt(run.pageSize);
    for (const round of run.rounds) for (const p of round.processes) {
      let entry = byKey.get(p.key);
      if (!entry) byKey.set(p.key, (entry = { label: p.label, extents: new Map() }));
      for (const r of p.regions) {
        if (!included(r)) continue;
        const s = Number(r.start / ps), e = Number((r.end + ps - 1n) / ps), label = regionLabel(r.path);
        const id = `${s}:${e}:${label}`;
        const x = entry.extents.get(id);
        if (x) x.written ||= r.runs.length > 0;
        else entry.extents.set(id, { s, e, label, written: r.runs.length > 0 });
      }
    }
  }
  const out: ProcessSpans[] = [];
  for (const [key, { label, extents }] of [...byKey].sort((a, b) => a[0].localeCompare(b[0], 'en', { numeric: true }))) {
    const spans: Span[] = [];
    let lastStart = -1;
    for (const x of [...extents.values()].sort((a, b) => a.s - b.s || a.e - b.e)) {
      const cur = spans.at(-1);
      // Overlap (the address was reused, or a mapping grew, over the run) merges; touching does not.
      if (cur && x.s < cur.e) {
        cur.e = Math.max(cur.e, x.e);
        cur.written ||= x.written;
        if (x.s !== lastStart) cur.regions++; // a mapping that grew or shrank is still one
      } else spans.push({ ...x, regions: 1, band: -1, base: 0 });
      lastStart = x.s;
    }
    out.push({ key, label, spans, starts: Float64Array.from(spans, (s) => s.s) });
  }
  return out;
}

function bandRows(pages: number, q: number): number {
  return Math.min(pages, Math.ceil(pages / q));
}

/** The rows, bands and columns shared by every run given (detected and truth drawn the same way). */
export function heatmapLayout(runs: HeatRun[], limits: HeatLimits = {}): { layout: HeatLayout; spans: ProcessSpans[] } {
  const lim = { ...HEAT_LIMITS, ...limits };
  const base = runs[0];
  const procs = processSpans(runs);
  const bands: HeatBand[] = [];
  const perMapping = procs.reduce((a, p) => a + p.spans.length, 0) <= lim.bandPerMappingUpTo;
  for (const p of procs) {
    for (const sp of p.spans) {
      const b = bands.at(-1);
      if (!perMapping && b && b.process === p.key && b.label === sp.label) {
        sp.base = b.pages;
        b.pages += sp.e - sp.s;
        b.regions += sp.regions;
        b.written ||= sp.written;
      } else {
        sp.base = 0;
        bands.push({ process: p.key, label: sp.label, regions: sp.regions, pages: sp.e - sp.s, written: sp.written, firstRow: 0, rows: 1, bucketPages: 1, top: 0, height: 1, start: '0x' + (BigInt(sp.s) * BigInt(base.pageSize)).toString(16) });
      }
      sp.band = bands.length - 1;
    }
  }
  const minHeight = (b: HeatBand) => (b.written ? lim.minBandRows : 1);
  const height = (q: number) => bands.reduce((a, b) => a + Math.max(minHeight(b), bandRows(b.pages, q)), 0);
  const maxPages = Math.max(1, ...bands.map((b) => b.pages));
  let lo = 1, hi = maxPages; // smallest q with height(q) ≤ maxRows (height falls as q grows)
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (height(mid) <= lim.maxRows) hi = mid;
    else lo = mid + 1;
  }
  let row = 0, top = 0;
  for (const b of bands) {
    const target = bandRows(b.pages, lo);
    b.bucketPages = Math.ceil(b.pages / target);
    b.rows = Math.ceil(b.pages / b.bucketPages);
    b.height = Math.max(minHeight(b), b.rows);
    b.firstRow = row;
    b.top = top;
    row += b.rows;
    top += b.height;
  }
  const processes: HeatProcessBlock[] = procs.map((p) => {
    const own = bands.filter((b) => b.process === p.key);
    return { key: p.key, label: p.label, top: own[0]?.top ?? 0, height: own.reduce((a, b) => a + b.height, 0) };
  });
  const n = base.rounds.length;
  const k = Math.max(1, Math.ceil(n / lim.maxColumns));
  const columns: HeatColumn[] = [];
  let t = 0;
  for (let first = 0; first < n; first += k) {
    const t0 = t;
    for (let i = first; i < Math.min(n, first + k); i++) t += base.rounds[i].intervalMs;
    columns.push({ firstRound: first, rounds: Math.min(k, n - first), t0Ms: t0, t1Ms: t });
  }
  return { layout: { pageSize: base.pageSize, rounds: n, roundsPerColumn: k, durationMs: t, rows: row, height: top, bands, processes, columns }, spans: procs };
}

/** Index of the last span starting at or before page s (−1 if none). */
function spanAt(p: ProcessSpans, s: number): number {
  let lo = 0, hi = p.starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (p.starts[mid] <= s) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** Add the pages [a, z), inside span sp, to the cells of column c (density: share of them written). */
function addInSpan(acc: Float64Array, sp: Span, band: HeatBand, cols: number, c: number, a: number, z: number, density: number): void {
  const bucket = band.bucketPages;
  const o1 = sp.base + a - sp.s, o2 = sp.base + z - sp.s;
  for (let r = Math.floor(o1 / bucket); r * bucket < o2; r++) {
    acc[(band.firstRow + r) * cols + c] += (Math.min(o2, (r + 1) * bucket) - Math.max(o1, r * bucket)) * density;
  }
}

/** Add the pages [s, e) to the cells of column c they fall in (parts outside every span are not drawn). */
function addPages(acc: Float64Array, p: ProcessSpans, bands: HeatBand[], cols: number, c: number, s: number, e: number, density = 1): void {
  for (let i = Math.max(0, spanAt(p, s)); i < p.spans.length && p.spans[i].s < e; i++) {
    const sp = p.spans[i];
    const a = Math.max(s, sp.s), z = Math.min(e, sp.e);
    if (z > a) addInSpan(acc, sp, bands[sp.band], cols, c, a, z, density);
  }
}

/** The cells of one run over a layout made by heatmapLayout (from this run, or from it and others). */
export function heatmapGrid(run: HeatRun, made: ReturnType<typeof heatmapLayout>): HeatGrid {
  const { layout, spans } = made;
  if (run.rounds.length !== layout.rounds) throw invalidArgument(`heatmap: run has ${run.rounds.length} rounds, layout ${layout.rounds}`);
  if (run.pageSize !== layout.pageSize) throw invalidArgument(`heatmap: page size ${run.pageSize} against the layout's ${layout.pageSize}`);
  const cols = layout.columns.length;
  const written = new Float64Array(layout.rows * cols);
  const mapped = new Float64Array(layout.rows * cols);
  const byKey = new Map(spans.map((p) => [p.key, p]));
  const ps = BigInt(run.pageSize);
  run.rounds.forEach((round, i) => {
    const c = Math.floor(i / layout.roundsPerColumn);
    for (const proc of round.processes) {
      const p = byKey.get(proc.key);
      if (!p) continue;
      for (const r of proc.regions) {
        const s = Number(r.start / ps), e = Number((r.end + ps - 1n) / ps);
        addPages(mapped, p, layout.bands, cols, c, s, e);
        const i = spanAt(p, s), sp = p.spans[i];
        const w = r.written;
        if (sp && sp.e >= e) { // the usual case: the whole mapping in one span, no search per run
          const band = layout.bands[sp.band];
          for (let j = 0; j < r.runs.length; j += 2) {
            const a = Math.max(s, r.runs[j]), z = Math.min(e, r.runs[j + 1]);
            if (z > a) addInSpan(written, sp, band, cols, c, a, z, w ? w[j >> 1] / (r.runs[j + 1] - r.runs[j]) : 1);
          }
        } else for (let j = 0; j < r.runs.length; j += 2) addPages(written, p, layout.bands, cols, c, r.runs[j], r.runs[j + 1], w ? w[j >> 1] / (r.runs[j + 1] - r.runs[j]) : 1);
      }
    }
  });
  const values = new Float64Array(written.length);
  for (let i = 0; i < values.length; i++) values[i] = mapped[i] > 0 ? written[i] / mapped[i] : NaN;
  return { layout, values };
}

/** Layout and cells of one run. */
export function heatmapOf(run: HeatRun, limits?: HeatLimits): HeatGrid {
  return heatmapGrid(run, heatmapLayout([run], limits));
}

/** A grid as plain JSON (NaN → null, values to 4 decimals), for results/data/. */
export function gridToJson(g: HeatGrid): { layout: HeatLayout; values: Array<number | null> } {
  return { layout: g.layout, values: Array.from(g.values, (v) => (Number.isNaN(v) ? null : Math.round(v * 1e4) / 1e4)) };
}

export function gridFromJson(j: { layout: HeatLayout; values: Array<number | null> }): HeatGrid {
  return { layout: j.layout, values: Float64Array.from(j.values, (v) => (v === null ? NaN : v)) };
}
