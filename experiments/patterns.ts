import { watchRateWriter, type TruthRound, type WatchedRun } from './lib/watched-run.js';
import { heatData, heatDataSvg, loadHeat, pagesWithin, saveHeat, type SavedHeat } from './lib/heat.js';
import { heatProcess, type HeatRound } from '../src/report/heatmap.js';
import { PAGE_SIZE } from '../src/kernel/info.js';
import { experimentBackendChoice } from './lib/lockstep.js';
import { lineChartSvg } from './lib/plot.js';
import { environmentLine, markdownTable } from './lib/report.js';
import type { Experiment } from './index.js';

const INTERVAL = 200;
const HOT = 512;
const PHASE_MS = 3000;
const PATTERNS: Array<{ key: string; label: string; args: string[] }> = [
  { key: 'uniform', label: 'uniform: 10 000 pages/s over 8192 pages', args: ['--pages', '8192', '--rate', '10000'] },
  { key: 'hotcold', label: 'hot/cold: 20 000 pages/s, 90 % to 512 hot pages, 10 % over 16 384', args: ['--pages', '16384', '--rate', '20000', '--pattern', 'hotcold', '--hot', String(HOT), '--hot-frac', '0.9'] },
  // 65 536 pages at 20 000 pages/s take 3.3 s to cover: before the drop at 3 s the working set still grows.
  { key: 'phase', label: 'phase change: 20 000 pages/s, then 4 000 from t = 3 s, over 65 536 pages', args: ['--pages', '65536', '--rate', '20000', '--pattern', 'phase', '--phase-at-ms', String(PHASE_MS), '--rate2', '4000'] },
  // 65 536 pages: the 40 rounds' front crosses about half of the region, a diagonal in the heatmap.
  { key: 'grow', label: 'growing heap: 4 000 fresh pages/s over 65 536 pages, never the same page twice', args: ['--pages', '65536', '--rate', '4000', '--pattern', 'grow'] },
];

/** Mean share of a zone of the target's region written per round (pages per round for grow), detected and true. */
interface Zone { name: string; detected: number; truth: number }
interface Run { key: string; label: string; reason: string; rounds: TruthRound[]; workingSet: number; hotSet: number; steady: number; backend: string; lost: number; heat?: SavedHeat; zones?: Zone[] }
interface Data { runs: Run[] }

/** Detected beside truth over one layout, and the mean share written per round of the pattern's zones. */
function heatOf(key: string, run: WatchedRun, detected: HeatRound[]): Pick<Run, 'heat' | 'zones'> {
  const truthRuns = run.truthRuns;
  if (!truthRuns || detected.length !== truthRuns.length) return {};
  const { region } = run;
  const start = region.startPage, end = start + region.pages;
  const truth: HeatRound[] = detected.map((d, i) => ({ intervalMs: d.intervalMs, processes: [{ key: d.processes[0].key, label: d.processes[0].label,
    regions: [{ start: region.start, end: region.start + BigInt(region.size), path: '', perms: 'rw-p', runs: truthRuns[i] }] }] }));
  const heat = saveHeat(heatData([{ title: 'detected by dirtytrack (whole process)', run: { pageSize: PAGE_SIZE, rounds: detected } }, { title: "truth: the target's own log (its region only)", run: { pageSize: PAGE_SIZE, rounds: truth } }]));
  const inRegion = (i: number, a: number, b: number) => detected[i].processes[0].regions.reduce((n, r) => n + pagesWithin(r.runs, a, b), 0);
  const zone = (name: string, a: number, b: number, which: (i: number) => boolean, perPage = true): Zone => {
    const idx = detected.map((_, i) => i).filter(which);
    const mean = (f: (i: number) => number) => idx.reduce((x, i) => x + f(i), 0) / Math.max(1, idx.length) / (perPage ? b - a : 1);
    return { name, detected: mean((i) => inRegion(i, a, b)), truth: mean((i) => pagesWithin(truthRuns[i], a, b)) };
  };
  const all = () => true;
  const zones = key === 'hotcold' ? [zone('hot', start, start + HOT, all), zone('cold', start + HOT, end, all)]
    : key === 'phase' ? [zone('before', start, end, (i) => run.rounds[i].elapsedMs < PHASE_MS - 200), zone('after', start, end, (i) => run.rounds[i].elapsedMs - run.rounds[i].intervalMs > PHASE_MS + 200)]
    : key === 'grow' ? [zone('fresh pages per round', start, end, all, false)]
    : [zone('region', start, end, all)];
  return { heat, zones };
}

const pct = (x: number) => `${(100 * x).toFixed(x < 0.1 ? 1 : 0)} %`;

/** One sentence on what the heatmap shows, with the pattern's numbers. */
function heatSentence(r: Run): string {
  const z = Object.fromEntries((r.zones ?? []).map((x) => [x.name, x]));
  const both = (x: Zone) => `${pct(x.detected)} detected, ${pct(x.truth)} by the truth`;
  switch (r.key) {
    case 'uniform': return `The target's region is one evenly coloured band in every round: writes spread over all of it (per round, ${both(z.region)}); the other bands are the process's own runtime (its truth log, libc, stack), which the truth panel does not cover.`;
    case 'hotcold': return `The ${HOT} hot pages are the dark stripe at the top of the target's region (per round, ${both(z.hot)} of them); the cold rest stays pale (${both(z.cold)}).`;
    case 'phase': return `The target's region is darker until t = ${PHASE_MS / 1000} s and paler after, when the rate drops (per round, ${both(z.before)} of the region before; ${both(z.after)} after).`;
    default: return `A diagonal: each round writes fresh pages just past the previous round's and never behind them (${Math.round(z['fresh pages per round']?.detected ?? 0)} pages per round detected, ${Math.round(z['fresh pages per round']?.truth ?? 0)} by the truth, which leaves out writes that straddle a reset), while the rest of the region stays white.`;
  }
}

export const patterns: Experiment<Data> = {
  name: 'patterns',
  question: 'What do hot/cold, phase-change and growing-heap targets look like to watch?',
  async measure() {
    const runs: Run[] = [];
    for (const p of PATTERNS) {
      const detected: HeatRound[] = [];
      const run = await watchRateWriter([...p.args, '--seed', '17'], { backend: experimentBackendChoice(), intervalMs: INTERVAL, tolerance: 0.05, stable: 3, maxRounds: 40 },
        (r, _t, scan) => { detected.push({ intervalMs: r.intervalMs, processes: [heatProcess(scan)] }); }, true);
      runs.push({ key: p.key, label: p.label, reason: run.summary.reason, rounds: run.rounds, workingSet: run.summary.workingSetPages, hotSet: run.summary.hotSetPages, steady: run.summary.steadyPagesPerSec, backend: run.summary.backend, lost: run.alignment?.lost ?? -1, ...heatOf(p.key, run, detected) });
    }
    return { runs };
  },
  async render(envs) {
    const md = ['# patterns: hot/cold, phase change and a growing heap under watch', '',
      `\`watch\` at ${INTERVAL} ms, tolerance 5 %, stable 3, at most 40 rounds, on \`rate-writer\` in four patterns. Per round the plots show the pages detected in the target's region beside the truth (distinct pages of the writes the target's log places certainly inside the round).`, ''];
    const answers: string[] = [];
    const files: Record<string, string> = {};
    for (const { env, data } of envs) {
      md.push(`## ${env.tag}: kernel ${env.kernel}`, '', environmentLine(env, data.runs[0]?.backend), '');
      md.push(markdownTable(['pattern', 'stopped', 'rounds', 'steady pages/s (whole process)', 'working set (pages)', 'hot set (pages)', 'lost writes'],
        data.runs.map((r) => [r.label, r.reason, r.rounds.length, r.steady, r.workingSet, r.hotSet, r.lost])), '');
      for (const r of data.runs) {
        const svg = `patterns-${r.key}-${env.tag}.svg`;
        files[svg] = await lineChartSvg({
          title: `${r.key} (${env.tag}, ${r.backend}): dirty pages per ${INTERVAL} ms round`, x: 'round', y: 'pages',
          series: [
            { name: 'detected (in region)', points: r.rounds.map((x) => ({ x: x.round, y: x.detectedInRegion })) },
            { name: 'truth (target log)', points: r.rounds.map((x) => ({ x: x.round, y: x.truthPages })) },
            { name: 'new to the run', points: r.rounds.map((x) => ({ x: x.round, y: x.newPages })) },
          ],
        });
        md.push(`![${r.key}](${svg})`, '');
        if (r.heat) {
          const heat = `patterns-${r.key}-heat-${env.tag}.svg`;
          files[heat] = heatDataSvg(loadHeat(r.heat), `${r.key} (${env.tag}, ${r.backend}): pages written per ${INTERVAL} ms round, address × time`,
            'truth counts only the writes its log places certainly inside a round; grey in the truth panel: not the target\'s region');
          md.push(`![${r.key} heatmap](${heat})`, '', heatSentence(r), '');
        }
      }
      const by = Object.fromEntries(data.runs.map((r) => [r.key, r]));
      const phaseAt = by.phase?.rounds.find((x) => x.elapsedMs >= 3000)?.round ?? 'never (stopped before 3 s)';
      answers.push(`${env.tag} (${data.runs[0]?.backend}): uniform ${by.uniform?.reason} in ${by.uniform?.rounds.length} rounds; hot/cold ${by.hotcold?.reason} (hot set ${by.hotcold?.hotSet} pages of 512 hot, the cold tail keeps adding ${by.hotcold?.rounds.at(-1)?.newPages ?? '?'} new pages a round); phase change ${by.phase?.reason} at round ${by.phase?.rounds.length} (the rate dropped at t = 3 s, round ${phaseAt}); growing heap ${by.grow?.reason} after ${by.grow?.rounds.length} rounds with a ${by.grow?.workingSet}-page working set`);
    }
    return { markdown: md.join('\n'), answer: answers.join('; ') + '.', ok: envs.length > 0 && envs.every(({ data }) => data.runs.every((r) => r.lost === 0) && data.runs.find((r) => r.key === 'grow')?.reason !== 'converged'), files };
  },
};
