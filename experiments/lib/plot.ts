import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface Series {
  name: string;
  points: Array<{ x: number; y: number }>;
}

/** A line chart as a standalone SVG (Vega-Lite rendered headless, no browser). */
export async function lineChartSvg(opts: { title: string; x: string; y: string; series: Series[]; width?: number; height?: number; logY?: boolean }): Promise<string> {
  const values = opts.series.flatMap((s) => s.points.map((p) => ({ x: p.x, y: p.y, series: s.name })));
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: opts.title,
    width: opts.width ?? 560,
    height: opts.height ?? 240,
    background: 'white',
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: opts.x, axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'y', type: 'quantitative', title: opts.y, scale: opts.logY ? { type: 'log' } : { zero: true } },
      // Colour and dash share one legend; dashes keep coinciding lines (detected = truth) apart.
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', direction: 'vertical', labelLimit: 500 } },
      strokeDash: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', direction: 'vertical', labelLimit: 500 } },
    },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
