import { heatmapGrid, heatmapLayout, heatmapSvg, type HeatLayout, type HeatRun } from '../../src/report/heatmap.js';
import type { Runs } from '../../src/types.js';

/** Heatmap panels over one layout (values: fraction written, null = not mapped). */
export interface HeatData {
  layout: HeatLayout;
  panels: Array<{ title: string; values: Array<number | null> }>;
}

/** As saved in results/data/: values in ten-thousandths, '-' for not mapped, repeats as v*n. */
export interface SavedHeat {
  layout: HeatLayout;
  panels: Array<{ title: string; cells: string }>;
}

export function saveHeat(d: HeatData): SavedHeat {
  return { layout: d.layout, panels: d.panels.map((p) => {
    const out: string[] = [];
    for (let i = 0; i < p.values.length; ) {
      let j = i + 1;
      while (j < p.values.length && p.values[j] === p.values[i]) j++;
      const v = p.values[i] === null ? '-' : String(Math.round(p.values[i]! * 1e4));
      out.push(j - i > 1 ? `${v}*${j - i}` : v);
      i = j;
    }
    return { title: p.title, cells: out.join(',') };
  }) };
}

export function loadHeat(s: SavedHeat): HeatData {
  return { layout: s.layout, panels: s.panels.map((p) => ({ title: p.title, values: p.cells.split(',').flatMap((x) => {
    const [v, n] = x.split('*');
    return Array<number | null>(Number(n ?? 1)).fill(v === '-' ? null : Number(v) / 1e4);
  }) })) };
}

/** Grids of several runs of the same rounds (detected, truth) over one shared layout. */
export function heatData(panels: Array<{ title: string; run: HeatRun }>): HeatData {
  const made = heatmapLayout(panels.map((p) => p.run));
  return {
    layout: made.layout,
    panels: panels.map((p) => ({ title: p.title, values: Array.from(heatmapGrid(p.run, made).values, (v) => (Number.isNaN(v) ? null : Math.round(v * 1e4) / 1e4)) })),
  };
}

export function heatDataSvg(d: HeatData, title: string, note?: string): string {
  return heatmapSvg(d.panels.map((p) => ({ title: p.title, grid: { layout: d.layout, values: Float64Array.from(p.values, (v) => (v === null ? NaN : v)) } })), { title, note });
}

/** Pages of runs within [a, b). */
export function pagesWithin(runs: Runs, a: number, b: number): number {
  let n = 0;
  for (let i = 0; i < runs.length; i += 2) n += Math.max(0, Math.min(b, runs[i + 1]) - Math.max(a, runs[i]));
  return n;
}

/** Per column, the share of the pages of bands labelled `label` written (rows weighted by their pages). */
export function bandShare(d: HeatData, panel: number, label: string): number[] {
  const cols = d.layout.columns.length;
  return d.layout.columns.map((_, c) => {
    let w = 0, n = 0;
    for (const b of d.layout.bands) {
      if (b.label !== label) continue;
      for (let r = 0; r < b.rows; r++) {
        const v = d.panels[panel].values[(b.firstRow + r) * cols + c];
        if (v === null) continue;
        const pages = Math.min(b.bucketPages, b.pages - r * b.bucketPages);
        w += v * pages;
        n += pages;
      }
    }
    return n ? w / n : 0;
  });
}

/**
 * How a band's writes spread over its rows: pages of the rows written in more than half of the columns
 * ("busy"), their share of the band's written pages, and pages of the rows never written.
 */
export function bandSpread(d: HeatData, panel: number, band: number): { pages: number; busyPages: number; busyShare: number; untouchedPages: number } {
  const b = d.layout.bands[band], cols = d.layout.columns.length, values = d.panels[panel].values;
  let busyPages = 0, untouchedPages = 0, written = 0, busyWritten = 0;
  for (let r = 0; r < b.rows; r++) {
    const pages = Math.min(b.bucketPages, b.pages - r * b.bucketPages);
    let hits = 0, w = 0;
    for (let c = 0; c < cols; c++) {
      const v = values[(b.firstRow + r) * cols + c] ?? 0;
      if (v > 0) hits++;
      w += v * pages;
    }
    written += w;
    if (hits > cols / 2) { busyPages += pages; busyWritten += w; }
    if (hits === 0) untouchedPages += pages;
  }
  return { pages: b.pages, busyPages, busyShare: written ? busyWritten / written : 0, untouchedPages };
}
