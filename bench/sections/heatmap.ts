// Section 8: drawing the address × time heatmap of a long watch of a large process (synthetic rounds:
// what is measured is the drawing, not the tracking).
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { markdownTable } from '../../experiments/lib/report.js';
import { heatmapOf, heatmapSvg, type HeatGrid, type HeatRegion, type HeatRun } from '../../src/report/heatmap.js';
import { GiB, PAGE, sizeLabel, type Section } from '../lib/context.js';
import { fmt, fmtRatioStats, msSince, nowNs, num, stats } from '../lib/stats.js';

/** Deterministic pseudo-random numbers (xorshift32): the same rounds in every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

/** Runs from sorted, possibly touching page pairs. */
function runsOf(pairs: number[]): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    if (out.length && pairs[i] <= out[out.length - 1]) out[out.length - 1] = Math.max(out[out.length - 1], pairs[i + 1]);
    else out.push(pairs[i], pairs[i + 1]);
  }
  return Float64Array.from(out);
}

/**
 * A watch of `rounds` rounds of a process with one `heapBytes` anonymous heap and 30 small mappings
 * (binary, [heap], libraries, thread stacks, [stack]). Each round writes a hot set (64 runs of 64 pages),
 * a sweep moving through the heap (2048 runs of 2 pages), 2000 pages at random and a few pages elsewhere.
 */
export function syntheticWatch(rounds: number, heapBytes: number): { run: HeatRun; runsPerRound: number } {
  const heapPages = heapBytes / PAGE, H = 0x7f0000000; // page numbers
  const rand = rng(8);
  const small: Array<[number, number, string]> = [[0x400, 0x404, '/usr/bin/app'], [0x1000, 0x1200, '[heap]'], [0x7fff00000, 0x7fff00021, '[stack]']];
  for (let i = 0; i < 27; i++) small.push([H + heapPages + 0x1000 * (i + 1), H + heapPages + 0x1000 * (i + 1) + 2 + (i % 5) * 16, i % 3 ? `/usr/lib/lib${i}.so` : '']);
  small.sort((a, b) => a[0] - b[0]);
  const out: HeatRun = { pageSize: PAGE, rounds: [] };
  let total = 0;
  for (let k = 0; k < rounds; k++) {
    const pairs: number[] = [];
    for (let i = 0; i < 64; i++) pairs.push(H + i * 1024, H + i * 1024 + 64);
    const sweep = H + ((k * 4096 * 2) % (heapPages - 4096 * 2));
    for (let i = 0; i < 2048; i++) pairs.push(sweep + 4 * i, sweep + 4 * i + 2);
    for (let i = 0; i < 2000; i++) { const p = H + Math.floor(rand() * heapPages); pairs.push(p, p + 1); }
    const sorted: number[] = [];
    const idx = Array.from({ length: pairs.length / 2 }, (_, i) => i).sort((a, b) => pairs[2 * a] - pairs[2 * b]);
    for (const i of idx) sorted.push(pairs[2 * i], pairs[2 * i + 1]);
    const heap = runsOf(sorted);
    total += heap.length / 2;
    const regions: HeatRegion[] = small.map(([s, e, path]) => ({ start: BigInt(s * PAGE), end: BigInt(e * PAGE), path, perms: 'rw-p', runs: rand() < 0.5 ? Float64Array.of(s, s + 1) : new Float64Array(0) }));
    regions.push({ start: BigInt(H * PAGE), end: BigInt((H + heapPages) * PAGE), path: '', perms: 'rw-p', runs: heap });
    regions.sort((a, b) => (a.start < b.start ? -1 : 1));
    out.rounds.push({ intervalMs: 200 + rand() * 10, processes: [{ key: 'pid:1', label: 'pid 1', regions }] });
  }
  return { run: out, runsPerRound: Math.round(total / rounds) };
}

/** The reference: vega-lite drawing the same cells as rectangles (the chart library the project uses). */
async function vegaSvg(g: HeatGrid): Promise<string> {
  const cols = g.layout.columns.length;
  const values: Array<{ r: number; c: number; v: number }> = [];
  g.values.forEach((v, i) => { if (!Number.isNaN(v)) values.push({ r: Math.floor(i / cols), c: i % cols, v }); });
  const spec: TopLevelSpec = {
    width: 640, height: 480, background: 'white', data: { values }, mark: { type: 'rect' },
    encoding: { x: { field: 'c', type: 'ordinal', axis: null }, y: { field: 'r', type: 'ordinal', axis: null }, color: { field: 'v', type: 'quantitative', scale: { scheme: 'yelloworangered' } } },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

export const heatmapDrawing: Section = {
  id: 8,
  title: 'Heatmap: drawing a long watch of a large process',
  async run(ctx) {
    const rounds = ctx.quick ? 100 : 1000, bytes = ctx.quick ? 1 * GiB : 16 * GiB, reps = ctx.quick ? 2 : 7;
    ctx.log(`  synthetic watch: ${rounds} rounds of ${sizeLabel(bytes)}`);
    const { run, runsPerRound } = syntheticWatch(rounds, bytes);
    const grid: number[] = [], svg: number[] = [], ref: number[] = [], ratio: number[] = [];
    let file = '', refFile = '', g: HeatGrid | undefined;
    for (let i = 0; i <= reps; i++) { // the first of each is a warm-up
      let t = nowNs();
      g = heatmapOf(run);
      const tg = msSince(t);
      t = nowNs();
      file = heatmapSvg([{ title: 'pages written per round', grid: g }], { title: `synthetic watch: ${rounds} rounds of a ${sizeLabel(bytes)} process` });
      const ts = msSince(t);
      t = nowNs();
      refFile = await vegaSvg(g);
      const tr = msSince(t);
      if (i === 0) continue;
      grid.push(tg); svg.push(ts); ref.push(tr); ratio.push(tr / ts);
    }
    const l = g!.layout;
    const cells = l.rows * l.columns.length;
    const sg = stats(grid), ss = stats(svg), sr = stats(ref), sq = stats(ratio);
    const markdown = [
      `A synthetic watch (bench/sections/heatmap.ts): ${rounds} rounds of a process with a ${sizeLabel(bytes)} anonymous heap and 30 small mappings; each round writes a hot set, a sweep through the heap and 2000 pages at random, ${runsPerRound} runs per round. The cells come from \`heatmapOf\` (src/report/heatmap-grid.ts: bucket rule, fraction written per cell), the picture from \`heatmapSvg\` (src/report/heatmap-svg.ts). The reference draws the same cells with vega-lite (rect marks, headless, no axes or labels). ${reps} timed runs after a warm-up; ms, median (p25–p75).`,
      '',
      markdownTable(['rounds', 'mapped', 'rows × columns', 'cells from the runs, ms', 'SVG from the cells, ms', 'SVG bytes', 'vega-lite SVG from the cells, ms', 'vega-lite SVG bytes', 'vega-lite ÷ dedicated writer'],
        [[rounds, sizeLabel(bytes), `${l.rows} × ${l.columns.length}`, fmt(sg), fmt(ss), file.length, fmt(sr), refFile.length, fmtRatioStats(sq)]]),
      '',
      `Drawing the whole heatmap from the rounds takes ${num(sg.median + ss.median)} ms, most of it computing the ${cells} cells from the ${rounds * runsPerRound} runs; the file is ${num(file.length / 1024)} KiB against vega-lite's ${num(refFile.length / 1024)} KiB for the cells alone. The picture: [bench-heatmap.svg](bench-heatmap.svg).`,
    ].join('\n');
    return {
      markdown,
      goals: [{
        goal: 'heatmap SVG written faster and smaller than vega-lite draws the same cells',
        met: sq.median > 1 && file.length < refFile.length,
        measured: `${fmtRatioStats(sq)} faster; ${num(file.length / 1024)} KiB against ${num(refFile.length / 1024)} KiB (${rounds} rounds, ${sizeLabel(bytes)})`,
      }],
      data: { rounds, bytes, runsPerRound, rows: l.rows, columns: l.columns.length, gridMs: grid, svgMs: svg, vegaMs: ref, bytesSvg: file.length, bytesVega: refFile.length },
      files: { 'bench-heatmap.svg': file },
    };
  },
};
