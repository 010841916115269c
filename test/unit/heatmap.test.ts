import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { gridFromJson, gridToJson, heatmapGrid, heatmapLayout, heatmapOf, heatmapSvg, type HeatGrid, type HeatRegion, type HeatRun } from '../../src/report/heatmap.js';
import { heatLevel } from '../../src/report/heatmap-svg.js';
import { coarsenRegion } from '../../src/report/heatmap-coarsen.js';
import { HeatmapRecorder } from '../../src/report/heatmap.js';
import type { ScanResult } from '../../src/types.js';

const PAGE = 4096;
/** A mapping of pages [s, e) with dirty runs given as page pairs. */
const region = (s: number, e: number, path: string, runs: number[] = [], perms = 'rw-p'): HeatRegion =>
  ({ start: BigInt(s * PAGE), end: BigInt(e * PAGE), path, perms, runs: Float64Array.from(runs) });

// Pages: A [anon] 1000–1100, B [anon] 2000–2100 (gone in round 1), a read-only libc 3000–3050, a quiet
// lib.so 3050–3052, [stack] 5000–5004, and F [anon] 9000–9010 that appears in round 2 only.
const libc = region(3000, 3050, '/usr/lib/libc.so.6', [], 'r-xp');
const lib = () => region(3050, 3052, '/opt/lib.so');
const run: HeatRun = {
  pageSize: PAGE,
  rounds: [
    { intervalMs: 100, processes: [{ key: 'pid:7', label: 'pid 7', regions: [region(1000, 1100, '', [1000, 1010, 1020, 1025]), region(2000, 2100, '', [2095, 2100]), libc, lib(), region(5000, 5004, '[stack]', [5000, 5001])] }] },
    { intervalMs: 100, processes: [{ key: 'pid:7', label: 'pid 7', regions: [region(1000, 1100, '', [1000, 1025]), libc, lib(), region(5000, 5004, '[stack]')] }] },
    { intervalMs: 200, processes: [{ key: 'pid:7', label: 'pid 7', regions: [region(1000, 1100, ''), region(2000, 2100, '', [2000, 2050]), libc, lib(), region(5000, 5004, '[stack]', [5000, 5004]), region(9000, 9010, '', [9000, 9002])] }] },
  ],
};
const at = (g: HeatGrid, row: number, col: number) => g.values[row * g.layout.columns.length + col];

describe('heatmap grid', () => {
  // 15 rows at most, 2 columns: rounds 0–1 share column 0. The smallest q (pages per row) that fits is
  // 25: [anon] A+B 200 pages → 8 rows; lib.so 1 row; [stack] 1 row drawn 3 tall; F 1 row drawn 3 tall.
  const g = heatmapOf(run, { maxRows: 15, maxColumns: 2, minBandRows: 3, bandPerMappingUpTo: 0 });
  const band = (label: string, i = 0) => g.layout.bands.filter((b) => b.label === label)[i];

  it('collapses the gaps: one band per run of same-label mappings, read-only mappings left out', () => {
    expect(g.layout.bands.map((b) => [b.label, b.pages, b.rows, b.bucketPages, b.height, b.top])).toEqual([
      ['[anon]', 200, 8, 25, 8, 0],
      ['lib.so', 2, 1, 2, 1, 8],
      ['[stack]', 4, 1, 4, 3, 9],
      ['[anon]', 10, 1, 10, 3, 12],
    ]);
    expect(band('[anon]').regions).toBe(2);
    expect(g.layout.height).toBe(15);
    expect(g.layout.rows).toBe(11);
    expect(g.layout.columns).toEqual([{ firstRound: 0, rounds: 2, t0Ms: 0, t1Ms: 200 }, { firstRound: 2, rounds: 1, t0Ms: 200, t1Ms: 400 }]);
  });

  it('gives each cell the fraction of its mapped pages written over its rounds', () => {
    // Column 0 = rounds 0 and 1. Row 0 is pages 1000–1025: 15 + 25 written of 2 × 25 mapped.
    expect(at(g, 0, 0)).toBe(0.8);
    for (const r of [1, 2, 3]) expect(at(g, r, 0)).toBe(0);
    // Rows 4–7 are B, gone in round 1: only round 0's 25 pages count as mapped.
    expect(at(g, 4, 0)).toBe(0);
    expect(at(g, 7, 0)).toBe(5 / 25);
    expect(at(g, 8, 0)).toBe(0); // lib.so: mapped, never written
    expect(at(g, 9, 0)).toBe(1 / 8); // [stack]: 1 page of 4, in 2 rounds
    expect(at(g, 10, 0)).toBeNaN(); // F did not exist yet
    // Column 1 = round 2.
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((r) => at(g, r, 1))).toEqual([0, 0, 0, 0, 1, 1, 0, 0]);
    expect(at(g, 9, 1)).toBe(1);
    expect(at(g, 10, 1)).toBe(0.2);
  });

  it('draws truth and detected over one layout, one block of bands per process', () => {
    const truth: HeatRun = { pageSize: PAGE, rounds: run.rounds.map((r, i) => ({ intervalMs: r.intervalMs, processes: [{ key: 'pid:7', label: 'pid 7', regions: [region(1000, 1100, '', i === 1 ? [1000, 1025] : [])] }] })) };
    const made = heatmapLayout([run, truth], { maxRows: 15, maxColumns: 2, bandPerMappingUpTo: 0 });
    const t = heatmapGrid(truth, made);
    expect(t.layout).toBe(heatmapGrid(run, made).layout);
    expect(at(t, 0, 0)).toBe(0.5);
    expect(at(t, 4, 0)).toBeNaN(); // truth knows only the target's region
    const two: HeatRun = { pageSize: PAGE, rounds: [{ intervalMs: 100, processes: [
      { key: 'pid:10', label: 'pid 10', regions: [region(10, 20, '[heap]', [10, 11])] },
      { key: 'pid:9', label: 'pid 9', regions: [region(10, 20, '[heap]', [10, 20])] },
    ] }] };
    const m = heatmapOf(two);
    expect(m.layout.processes.map((p) => [p.key, p.top, p.height])).toEqual([['pid:9', 0, 10], ['pid:10', 10, 10]]);
    expect(Array.from(m.values)).toEqual([...Array(10).fill(1), 1, ...Array(9).fill(0)]);
  });

  it('keeps within the row and column limits for a long watch of a large process', () => {
    const big: HeatRun = { pageSize: PAGE, rounds: Array.from({ length: 1000 }, (_, i) => ({ intervalMs: 200, processes: [{ key: 'pid:1', label: 'pid 1', regions: [
      region(1 << 20, (1 << 20) + (1 << 22), '', [(1 << 20) + i * 64, (1 << 20) + i * 64 + 32]), region(1 << 30, (1 << 30) + 33, '[stack]', [(1 << 30) + 30, (1 << 30) + 31]),
    ] }] })) };
    const l = heatmapOf(big).layout;
    expect(l.columns.length).toBeLessThanOrEqual(300);
    expect(l.height).toBeLessThanOrEqual(200);
    expect(l.bands[1].height).toBe(3);
  });

  it('gives each mapping its own band while there are few', () => {
    const own = heatmapOf(run, { maxRows: 15, maxColumns: 2, minBandRows: 3, bandPerMappingUpTo: 5 });
    // Still q = 25: A and B 100 pages → 4 rows each, now two bands; lib.so 1; [stack] and F drawn 3 tall.
    expect(own.layout.bands.map((b) => [b.label, b.regions, b.pages, b.rows, b.bucketPages, b.height, b.top])).toEqual([
      ['[anon]', 1, 100, 4, 25, 4, 0], ['[anon]', 1, 100, 4, 25, 4, 4], ['lib.so', 1, 2, 1, 2, 1, 8], ['[stack]', 1, 4, 1, 4, 3, 9], ['[anon]', 1, 10, 1, 10, 3, 12],
    ]);
    expect(own.layout.bands[1].start).toBe('0x' + (2000 * PAGE).toString(16));
    expect(at(own, 4, 0)).toBe(0); // B's first 25 pages, mapped in round 0 only
    expect(at(own, 7, 0)).toBe(5 / 25);
    expect(at(own, 4, 1)).toBe(1);
    expect(Array.from(own.values).map(String)).toEqual(Array.from(g.values).map(String)); // the same cells, split differently
  });

  it('survives JSON with NaN as null', () => {
    const back = gridFromJson(JSON.parse(JSON.stringify(gridToJson(g))));
    expect(Array.from(back.values).map(String)).toEqual(Array.from(g.values).map(String));
  });

  it('colours in 1-2-5 steps, zero apart from any write, nothing mapped apart from zero', () => {
    expect([NaN, 0, 1e-6, 0.002, 0.0021, 0.01, 0.05, 0.06, 0.25, 0.5, 0.51, 1].map(heatLevel)).toEqual([-1, 0, 1, 1, 2, 3, 5, 6, 7, 8, 9, 9]);
  });
});

describe('heatmap recorder within its memory budget', () => {
  it('counts written pages per aligned block, exactly, clipped to the mapping', () => {
    const r = region(1000, 1100, '', [1000, 1010, 1020, 1025, 1095, 1100]);
    const c8 = coarsenRegion(r, 1000, 1100, 8);
    // Blocks of 8: [1000,1008) full; [1008,1016) 2; [1016,1024) 4; [1024,1032) 1; [1088,1096) 1; [1096,1100) full.
    expect(Array.from(c8.runs)).toEqual([1000, 1008, 1008, 1016, 1016, 1024, 1024, 1032, 1088, 1096, 1096, 1100]);
    expect(Array.from(c8.written!)).toEqual([8, 2, 4, 1, 1, 4]);
    const c16 = coarsenRegion(c8, 1000, 1100, 16);
    expect(Array.from(c16.runs)).toEqual([1000, 1008, 1008, 1024, 1024, 1040, 1088, 1100]);
    expect(Array.from(c16.written!)).toEqual([8, 6, 1, 5]);
    // A dense region stays one run: full blocks merge.
    const dense = coarsenRegion(region(0, 64, '', [0, 64]), 0, 64, 8);
    expect([Array.from(dense.runs), Array.from(dense.written!)]).toEqual([[0, 64], [64]]);
  });

  it('past the budget draws the same written pages, shared out only at row edges', () => {
    const scans = (i: number) => run.rounds[i].processes.map((p) => ({ pid: 7, pageSize: PAGE, regions: p.regions.map((x) => ({ region: { start: x.start, end: x.end, path: x.path, perms: x.perms }, runs: x.runs, dirtyPages: 0 })) }) as unknown as ScanResult);
    const exact = new HeatmapRecorder(), small = new HeatmapRecorder(2);
    run.rounds.forEach((r, i) => { exact.add(r.intervalMs, scans(i)); small.add(r.intervalMs, scans(i)); });
    expect(exact.granularity).toBe(1);
    expect(small.granularity).toBeGreaterThan(1);
    const a = heatmapOf(exact.run(), { maxRows: 15, maxColumns: 2, bandPerMappingUpTo: 0 });
    const b = heatmapOf(small.run(), { maxRows: 15, maxColumns: 2, bandPerMappingUpTo: 0 });
    expect(b.layout.bands).toEqual(a.layout.bands);
    const cols = a.layout.columns.length;
    for (let c = 0; c < cols; c++) {
      let wa = 0, wb = 0;
      for (const band of a.layout.bands) for (let r = 0; r < band.rows; r++) {
        const pages = Math.min(band.bucketPages, band.pages - r * band.bucketPages);
        const i = (band.firstRow + r) * cols + c;
        expect(Number.isNaN(a.values[i])).toBe(Number.isNaN(b.values[i]));
        if (!Number.isNaN(a.values[i])) { wa += a.values[i] * pages; wb += b.values[i] * pages; }
      }
      expect(wb).toBeCloseTo(wa, 9);
    }
    expect(Array.from(b.values).map(String)).not.toEqual(Array.from(a.values).map(String)); // blocks did move pages between rows
    expect(small.svg('t')).toContain(`counted per ${small.granularity}-page block`);
  });
});

/** rsvg-convert renders one SVG to PNG; the suite fails (never skips) where it is missing. */
function rsvg(svgPath: string): { ok: boolean; err: string } {
  const r = spawnSync('rsvg-convert', ['--format', 'png', svgPath], { maxBuffer: 1 << 28 });
  if (r.error) throw new Error(`rsvg-convert failed to run (${r.error.message}): install Debian's librsvg2-bin (bash scripts/setup.sh does)`);
  return { ok: r.status === 0 && r.stdout.subarray(1, 4).toString() === 'PNG', err: r.stderr.toString() };
}

describe('SVG rendering', () => {
  const results = fileURLToPath(new URL('../../results/', import.meta.url));
  const svgs = readdirSync(results).filter((f) => f.endsWith('.svg'));

  it('finds the committed plots', () => {
    expect(svgs.length).toBeGreaterThan(5);
  });

  it.each(svgs)('results/%s renders', (name) => {
    const r = rsvg(results + name);
    expect(r.err).toBe('');
    expect(r.ok).toBe(true);
  });

  it('renders a heatmap drawn here, and rejects a broken SVG (the check has teeth)', () => {
    const dir = mkdtempSync(tmpdir() + '/heatmap-');
    const file = `${dir}/h.svg`;
    const grid = heatmapOf(run);
    const svg = heatmapSvg([{ title: 'detected', grid }, { title: 'truth', grid }], { title: 'synthetic <run> & "quotes"' });
    try {
      writeFileSync(file, svg);
      expect(rsvg(file).ok).toBe(true);
      writeFileSync(file, svg.slice(0, svg.length / 2));
      expect(rsvg(file).ok).toBe(false);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
