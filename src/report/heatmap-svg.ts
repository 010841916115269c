/**
 * Draw heatmap grids (heatmap-grid.ts) as one standalone SVG: panels side by side sharing the band
 * labels on the left (detected beside truth). A dedicated writer rather than a chart library: the cells of
 * one colour become one path, and runs of equal cells along a row one rectangle, so tens of thousands of
 * cells stay a small file that renders fast.
 */
import { invalidArgument } from '../errors.js';
import { formatBytes } from '../format.js';
import type { HeatGrid, HeatLayout } from './heatmap-grid.js';

export interface HeatPanel { title: string; grid: HeatGrid }
export interface HeatSvgOptions { title: string; panelWidth?: number; note?: string }

/**
 * Colour of a cell written at all, by upper bounds of the fraction written: steps of 1-2-5 so that a
 * sparse 1 % and a sparse 5 % differ as visibly as 50 % and 100 %. 0 is white, not mapped the grey background.
 */
const BOUNDS = [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1];
const BOUND_LABELS = ['.2%', '.5%', '1%', '2%', '5%', '10%', '25%', '50%', '100%'];
const LEVELS = ['#ffeda0', '#fed976', '#feb24c', '#fd8d3c', '#fc4e2a', '#e31a1c', '#bd0026', '#800026', '#4d0019'];
const ZERO = '#ffffff';
const UNMAPPED = '#d4d4d4';
const LABEL_W = 200;
const GAP = 24;
const TOP = 46;
const FONT = 'font-family="DejaVu Sans,Verdana,sans-serif"';

const n1 = (v: number) => String(Math.round(v * 10) / 10);
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** 0 for nothing written, 1–9 for the fraction's step in BOUNDS, −1 for nothing mapped. */
export function heatLevel(v: number): number {
  if (Number.isNaN(v)) return -1;
  if (v <= 0) return 0;
  for (let i = 0; i < BOUNDS.length - 1; i++) if (v <= BOUNDS[i]) return i + 1;
  return BOUNDS.length;
}

function timeTicks(durationMs: number): number[] {
  const steps = [100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000];
  const step = steps.find((s) => durationMs / s <= 8) ?? Math.ceil(durationMs / 8);
  const out: number[] = [];
  for (let t = 0; t <= durationMs; t += step) out.push(t);
  return out;
}

const seconds = (ms: number) => (ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000} min` : `${+(ms / 1000).toFixed(1)} s`);

/** The cells of one panel: one path per colour, equal neighbours in a row merged. */
function panelCells(g: HeatGrid, x0: number, width: number, rowPx: number): string {
  const { layout, values } = g;
  const cols = layout.columns.length;
  const span = layout.durationMs > 0 ? layout.durationMs : cols;
  const xs = layout.columns.map((c, i) => x0 + (width * (layout.durationMs > 0 ? c.t0Ms : i)) / span);
  xs.push(x0 + width);
  const paths: string[][] = Array.from({ length: LEVELS.length + 1 }, () => []);
  for (const b of layout.bands) {
    const h = (b.height * rowPx) / b.rows;
    for (let r = 0; r < b.rows; r++) {
      const y = TOP + b.top * rowPx + r * h;
      const base = (b.firstRow + r) * cols;
      for (let c = 0; c < cols; ) {
        const lv = heatLevel(values[base + c]);
        let end = c + 1;
        while (end < cols && heatLevel(values[base + end]) === lv) end++;
        if (lv >= 0) paths[lv].push(`M${n1(xs[c])} ${n1(y)}h${n1(xs[end] - xs[c])}v${n1(h)}h${n1(xs[c] - xs[end])}z`);
        c = end;
      }
    }
  }
  return paths.map((d, lv) => (d.length ? `<path fill="${lv === 0 ? ZERO : LEVELS[lv - 1]}" d="${d.join('')}"/>` : '')).join('\n');
}

function separators(layout: HeatLayout, x0: number, width: number, rowPx: number): string {
  const lines = layout.bands.slice(1).map((b) => `M${n1(x0)} ${n1(TOP + b.top * rowPx)}h${n1(width)}`).join('');
  const procs = layout.processes.slice(1).map((p) => `M${n1(x0)} ${n1(TOP + p.top * rowPx)}h${n1(width)}`).join('');
  return (lines ? `<path stroke="#666" stroke-width="0.5" d="${lines}"/>` : '') + (procs ? `<path stroke="#000" stroke-width="1.5" d="${procs}"/>` : '');
}

/** Label spacing, and how far a label may be pushed from its band's middle (a leader line joins them). */
const LINE = 10;
const MAX_SHIFT = 3 * LINE;

/**
 * Band labels, right-aligned left of the first panel. Written bands' labels go first, moved apart
 * (down, then up from the bottom edge) where they would overlap; a label moved too far from its band,
 * or any other band's label that would overlap one placed, is left out (and counted).
 */
function labels(layout: HeatLayout, rowPx: number, bottom: number): { svg: string; hidden: number } {
  const out: string[] = [];
  for (const p of layout.processes.length > 1 ? layout.processes : []) {
    out.push(`<text x="4" y="${n1(TOP + p.top * rowPx + 10)}" font-size="10" font-weight="bold">${esc(p.label)}</text>`);
  }
  const mid = (b: HeatLayout['bands'][number]) => TOP + (b.top + b.height / 2) * rowPx;
  // Written bands: push labels down past their upper neighbours, then up from the bottom edge.
  const written = layout.bands.filter((x) => x.written).map((band) => ({ band, y: mid(band) }));
  for (let i = 1; i < written.length; i++) written[i].y = Math.max(written[i].y, written[i - 1].y + LINE);
  for (let i = written.length - 1; i >= 0; i--) written[i].y = Math.min(written[i].y, i === written.length - 1 ? bottom : written[i + 1].y - LINE);
  const placed = written.filter((p) => Math.abs(p.y - mid(p.band)) <= MAX_SHIFT && p.y >= TOP);
  for (const b of layout.bands.filter((x) => !x.written)) {
    if (placed.every((p) => Math.abs(p.y - mid(b)) >= LINE)) placed.push({ band: b, y: mid(b) });
  }
  for (const { band: b, y } of placed) {
    const text = `${b.label} · ${formatBytes(b.pages * layout.pageSize)}${b.regions > 1 ? ` · ${b.regions} maps` : ''}`;
    out.push(`<text x="${LABEL_W - 10}" y="${n1(y + 3.5)}" font-size="10" text-anchor="end"><title>${esc(b.start)}</title>${esc(text)}</text>`);
    if (Math.abs(y - mid(b)) > 1) out.push(`<path stroke="#666" stroke-width="0.5" fill="none" d="M${LABEL_W - 8} ${n1(y)}L${LABEL_W - 1} ${n1(mid(b))}"/>`);
  }
  return { svg: out.join('\n'), hidden: layout.bands.length - placed.length };
}

function legend(x: number, y: number): string {
  const sw = 26;
  const out = [`<text x="${x}" y="${y - 4}" font-size="10">fraction of the cell's pages written in the round (upper bounds)</text>`];
  [ZERO, ...LEVELS].forEach((c, i) => out.push(`<rect x="${x + i * sw}" y="${y}" width="${sw}" height="10" fill="${c}" stroke="#999" stroke-width="0.5"/>`));
  ['0', ...BOUND_LABELS].forEach((t, i) => out.push(`<text x="${x + i * sw + sw / 2}" y="${y + 21}" font-size="8" text-anchor="middle">${t}</text>`));
  const gx = x + 10 * sw + 16;
  out.push(`<rect x="${gx}" y="${y}" width="${sw}" height="10" fill="${UNMAPPED}" stroke="#999" stroke-width="0.5"/>`, `<text x="${gx + sw + 4}" y="${y + 9}" font-size="9">not mapped</text>`);
  return out.join('\n');
}

/** Panels of grids sharing one layout (same bands, same rounds), as one SVG document. */
export function heatmapSvg(panels: HeatPanel[], opts: HeatSvgOptions): string {
  if (panels.length === 0) throw invalidArgument('heatmap: no panel to draw');
  const layout = panels[0].grid.layout;
  const pw = opts.panelWidth ?? (panels.length > 1 ? 420 : 640);
  // Rows fill about 480 px, but a written band's minimum height is tall enough for its label.
  const thinnest = Math.min(...layout.bands.filter((b) => b.written).map((b) => b.height));
  const rowPx = Math.min(10, Math.max(2, 480 / Math.max(1, layout.height), 11 / thinnest));
  const plotH = layout.height * rowPx;
  const width = LABEL_W + panels.length * pw + (panels.length - 1) * GAP + 16;
  const ticks = timeTicks(layout.durationMs);
  const lab = labels(layout, rowPx, TOP + plotH + 6);
  const intervals = layout.columns.length ? layout.durationMs / layout.rounds : 0;
  const axisNote = `time · ${layout.rounds} rounds, ${n1(intervals)} ms measured per round on average${layout.roundsPerColumn > 1 ? `, ${layout.roundsPerColumn} rounds per column` : ''}`;
  const rowNote = `${layout.rows} rows over ${layout.bands.length} bands of mapped memory (gaps left out)${lab.hidden ? `; ${lab.hidden} labels of thin bands left out` : ''}`;
  const height = TOP + plotH + 96 + (opts.note ? 14 : 0);
  const body: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${n1(height)}" viewBox="0 0 ${width} ${n1(height)}" ${FONT}>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="8" y="16" font-size="13" font-weight="bold">${esc(opts.title)}</text>`,
  ];
  panels.forEach((p, i) => {
    if (p.grid.layout !== layout) throw invalidArgument('heatmap: panels must share one layout');
    const x0 = LABEL_W + i * (pw + GAP);
    body.push(`<text x="${x0}" y="${TOP - 8}" font-size="11">${esc(p.title)}</text>`);
    body.push(`<rect x="${x0}" y="${TOP}" width="${pw}" height="${n1(plotH)}" fill="${UNMAPPED}"/>`);
    body.push(panelCells(p.grid, x0, pw, rowPx), separators(layout, x0, pw, rowPx));
    body.push(`<rect x="${x0}" y="${TOP}" width="${pw}" height="${n1(plotH)}" fill="none" stroke="#000" stroke-width="0.8"/>`);
    const tx = (t: number) => x0 + (layout.durationMs > 0 ? (pw * t) / layout.durationMs : 0);
    body.push(`<path stroke="#000" d="${ticks.map((t) => `M${n1(tx(t))} ${n1(TOP + plotH)}v4`).join('')}"/>`);
    for (const t of ticks) body.push(`<text x="${n1(tx(t))}" y="${n1(TOP + plotH + 15)}" font-size="9" text-anchor="middle">${seconds(t)}</text>`);
  });
  body.push(lab.svg);
  const y = TOP + plotH + 30;
  body.push(`<text x="${LABEL_W}" y="${n1(y)}" font-size="10">${esc(axisNote)}</text>`, `<text x="${LABEL_W}" y="${n1(y + 13)}" font-size="10">${esc(rowNote)}</text>`);
  if (opts.note) body.push(`<text x="${LABEL_W}" y="${n1(y + 26)}" font-size="10">${esc(opts.note)}</text>`);
  body.push(legend(LABEL_W, y + (opts.note ? 52 : 38)), '</svg>', '');
  return body.join('\n');
}
