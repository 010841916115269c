import { watchRateWriter, type TruthRound } from './lib/watched-run.js';
import { experimentBackendChoice } from './lib/lockstep.js';
import { lineChartSvg } from './lib/plot.js';
import { environmentLine, markdownTable } from './lib/report.js';
import type { Experiment } from './index.js';

const INTERVAL = 200;
const PATTERNS: Array<{ key: string; label: string; args: string[] }> = [
  { key: 'uniform', label: 'uniform: 10 000 pages/s over 8192 pages', args: ['--pages', '8192', '--rate', '10000'] },
  { key: 'hotcold', label: 'hot/cold: 20 000 pages/s, 90 % to 512 hot pages, 10 % over 16 384', args: ['--pages', '16384', '--rate', '20000', '--pattern', 'hotcold', '--hot', '512', '--hot-frac', '0.9'] },
  // 65 536 pages at 20 000 pages/s take 3.3 s to cover: before the drop at 3 s the working set still grows.
  { key: 'phase', label: 'phase change: 20 000 pages/s, then 4 000 from t = 3 s, over 65 536 pages', args: ['--pages', '65536', '--rate', '20000', '--pattern', 'phase', '--phase-at-ms', '3000', '--rate2', '4000'] },
  { key: 'grow', label: 'growing heap: 4 000 fresh pages/s, never the same page twice', args: ['--pages', '1048576', '--rate', '4000', '--pattern', 'grow'] },
];

interface Run { key: string; label: string; reason: string; rounds: TruthRound[]; workingSet: number; hotSet: number; steady: number; backend: string; lost: number }
interface Data { runs: Run[] }

export const patterns: Experiment<Data> = {
  name: 'patterns',
  question: 'What do hot/cold, phase-change and growing-heap targets look like to watch?',
  async measure() {
    const runs: Run[] = [];
    for (const p of PATTERNS) {
      const run = await watchRateWriter([...p.args, '--seed', '17'], { backend: experimentBackendChoice(), intervalMs: INTERVAL, tolerance: 0.05, stable: 3, maxRounds: 40 });
      runs.push({ key: p.key, label: p.label, reason: run.summary.reason, rounds: run.rounds, workingSet: run.summary.workingSetPages, hotSet: run.summary.hotSetPages, steady: run.summary.steadyPagesPerSec, backend: run.summary.backend, lost: run.alignment?.lost ?? -1 });
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
      }
      const by = Object.fromEntries(data.runs.map((r) => [r.key, r]));
      const phaseAt = by.phase?.rounds.find((x) => x.elapsedMs >= 3000)?.round ?? 'never (stopped before 3 s)';
      answers.push(`${env.tag} (${data.runs[0]?.backend}): uniform ${by.uniform?.reason} in ${by.uniform?.rounds.length} rounds; hot/cold ${by.hotcold?.reason} (hot set ${by.hotcold?.hotSet} pages of 512 hot, the cold tail keeps adding ${by.hotcold?.rounds.at(-1)?.newPages ?? '?'} new pages a round); phase change ${by.phase?.reason} at round ${by.phase?.rounds.length} (the rate dropped at t = 3 s, round ${phaseAt}); growing heap ${by.grow?.reason} after ${by.grow?.rounds.length} rounds with a ${by.grow?.workingSet}-page working set`);
    }
    return { markdown: md.join('\n'), answer: answers.join('; ') + '.', ok: envs.length > 0 && envs.every(({ data }) => data.runs.every((r) => r.lost === 0) && data.runs.find((r) => r.key === 'grow')?.reason !== 'converged'), files };
  },
};
