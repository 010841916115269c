import { watchRateWriter, type TruthRound } from './lib/watched-run.js';
import { experimentBackendChoice } from './lib/lockstep.js';
import { lineChartSvg } from './lib/plot.js';
import { environmentLine, markdownTable } from './lib/report.js';
import type { Experiment } from './index.js';

const W = 8192;
const RATES = [2000, 10000, 50000];
const INTERVALS = [100, 200, 500];

interface Run { rate: number; intervalMs: number; reason: string; rounds: TruthRound[]; steady: number; expected: number; backend: string; lost: number; checked: number }
interface Data { runs: Run[] }

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

export const convergence: Experiment<Data> = {
  name: 'convergence',
  question: 'What does the dirty count per interval converge to for a given write rate and interval?',
  async measure() {
    const runs: Run[] = [];
    for (const rate of RATES) for (const intervalMs of INTERVALS) {
      const run = await watchRateWriter(['--pages', String(W), '--rate', String(rate), '--seed', '11'], { backend: experimentBackendChoice(), intervalMs, tolerance: 0.05, stable: 3, maxRounds: 25 });
      const tail = run.rounds.slice(-4);
      runs.push({
        rate, intervalMs, reason: run.summary.reason, rounds: run.rounds, backend: run.summary.backend,
        steady: mean(tail.map((r) => r.detectedInRegion)),
        expected: mean(tail.map((r) => Math.min((rate * r.periodMs) / 1000, W))),
        lost: run.alignment?.lost ?? -1, checked: run.alignment?.checked ?? 0,
      });
    }
    return { runs };
  },
  async render(envs) {
    const md = ['# convergence: the dirty count per interval against min(rate × interval, W)', '',
      `Target: \`rate-writer --pages ${W} --rate R\` (uniform: cycles through a random permutation of its ${W} pages, so an interval of t seconds dirties min(R·t, W) distinct pages). \`watch\` with tolerance 5 %, stable 3, at most 25 rounds. "steady" is the mean over the last 4 rounds of the pages detected in the target's region; "expected" is min(R × t, W) over the same rounds, with t the measured wall time between two resets (the target paces its writes by the clock and catches up after a freeze, so it writes over the whole period). "lost" counts writes from the target's log missing from every round that had to hold them.`, ''];
    const answers: string[] = [];
    const files: Record<string, string> = {};
    let ok = envs.length > 0;
    for (const { env, data } of envs) {
      md.push(`## ${env.tag}: kernel ${env.kernel}`, '', environmentLine(env, data.runs[0]?.backend), '');
      md.push(markdownTable(['rate (pages/s)', 'interval (ms)', 'stopped', 'rounds', 'steady pages', 'expected', 'error', 'lost writes / checked'],
        data.runs.map((r) => [r.rate, r.intervalMs, r.reason, r.rounds.length, r.steady, r.expected, `${(((r.steady - r.expected) / r.expected) * 100).toFixed(1)} %`, `${r.lost} / ${r.checked}`])), '');
      const worst = Math.max(...data.runs.map((r) => Math.abs(r.steady - r.expected) / r.expected));
      ok &&= data.runs.every((r) => r.lost === 0);
      const example = data.runs.find((r) => r.rate === 10000 && r.intervalMs === 200) ?? data.runs[0];
      if (example) {
        const svg = `convergence-${env.tag}.svg`;
        files[svg] = await lineChartSvg({
          title: `rate-writer ${example.rate} pages/s, interval ${example.intervalMs} ms (${env.tag}, ${example.backend})`, x: 'round', y: 'pages',
          series: [
            { name: 'detected (in region)', points: example.rounds.map((r) => ({ x: r.round, y: r.detectedInRegion })) },
            { name: 'truth: pages certainly written in the round', points: example.rounds.map((r) => ({ x: r.round, y: r.truthPages })) },
            { name: 'expected min(R·t, W)', points: example.rounds.map((r) => ({ x: r.round, y: Math.min((example.rate * r.periodMs) / 1000, W) })) },
          ],
        });
        md.push(`![dirty pages per round](${svg})`, '');
      }
      answers.push(`${env.tag} (${data.runs[0]?.backend}): the steady count is within ${(worst * 100).toFixed(1)} % of min(rate × interval, W) across ${data.runs.length} rate/interval pairs (${data.runs.filter((r) => r.reason === 'converged').length} converged within 25 rounds), with ${data.runs.reduce((a, r) => a + r.lost, 0)} lost writes`);
    }
    return { markdown: md.join('\n'), answer: answers.join('; ') + '.', ok, files };
  },
};
