import { watchRateWriter } from './lib/watched-run.js';
import { experimentBackendChoice } from './lib/lockstep.js';
import { environmentLine, markdownTable } from './lib/report.js';
import type { Experiment } from './index.js';

const W = 8192, RATE = 10000;
const INTERVALS = [50, 100, 200, 500];
const TOLERANCES = [0.02, 0.05, 0.1];

interface Run { intervalMs: number; tolerance: number; reason: string; rounds: number; seconds: number; backend: string }
interface Data { runs: Run[] }

export const stopTime: Experiment<Data> = {
  name: 'stop-time',
  question: 'How long until the stop rule fires, and how does that depend on interval and tolerance?',
  async measure() {
    const runs: Run[] = [];
    for (const intervalMs of INTERVALS) for (const tolerance of TOLERANCES) {
      const run = await watchRateWriter(['--pages', String(W), '--rate', String(RATE), '--seed', '13'], { backend: experimentBackendChoice(), intervalMs, tolerance, stable: 3, maxRounds: 40, timeoutMs: 30_000 });
      runs.push({ intervalMs, tolerance, reason: run.summary.reason, rounds: run.rounds.length, seconds: (run.rounds.at(-1)?.elapsedMs ?? 0) / 1000, backend: run.summary.backend });
    }
    return { runs };
  },
  async render(envs) {
    const md = ['# stop-time: rounds and seconds until the stop rule fires', '',
      `Target: \`rate-writer --pages ${W} --rate ${RATE}\` (uniform). \`watch --stable 3\` with each interval and tolerance, at most 40 rounds or 30 s. The rule needs 4 rounds whose counts agree within the tolerance and whose pages are no longer new, so the working set must first be covered: ${W} pages at ${RATE} pages/s take ${(W / RATE).toFixed(2)} s.`, ''];
    const answers: string[] = [];
    for (const { env, data } of envs) {
      md.push(`## ${env.tag}: kernel ${env.kernel}`, '', environmentLine(env, data.runs[0]?.backend), '');
      md.push(markdownTable(['interval (ms)', 'tolerance', 'stopped', 'rounds', 'seconds'], data.runs.map((r) => [r.intervalMs, `${r.tolerance * 100} %`, r.reason, r.rounds, r.seconds])), '');
      const conv = data.runs.filter((r) => r.reason === 'converged');
      const byTol = TOLERANCES.map((t) => {
        const rs = conv.filter((r) => r.tolerance === t);
        return `${t * 100} %: ${rs.length}/${INTERVALS.length} converged${rs.length ? `, median ${rs.map((r) => r.rounds).sort((a, b) => a - b)[Math.floor(rs.length / 2)]} rounds` : ''}`;
      });
      answers.push(`${env.tag} (${data.runs[0]?.backend}): ${byTol.join('; ')}; time to stop grows with the interval (${conv.length ? `${Math.min(...conv.map((r) => r.seconds)).toFixed(1)}–${Math.max(...conv.map((r) => r.seconds)).toFixed(1)} s` : 'none converged'})`);
    }
    return { markdown: md.join('\n'), answer: answers.join('; ') + '.', ok: envs.length > 0 };
  },
};
