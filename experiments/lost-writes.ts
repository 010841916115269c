import { workingBackends } from '../src/backends/select.js';
import type { BackendName } from '../src/types.js';
import { watchRateWriter } from './lib/watched-run.js';
import { environmentLine, markdownTable } from './lib/report.js';
import type { Experiment } from './index.js';

const RATES = [10_000, 100_000, 1_000_000];

interface Run { backend: BackendName; freeze: boolean; rate: number; checked: number; lost: number; rounds: number; pauseMs: number }
interface Data { runs: Run[] }

export const lostWrites: Experiment<Data> = {
  name: 'lost-writes',
  question: 'How many writes are lost between scan and clear without freezing, and does freezing (or uffd-wp) lose none?',
  kernels: true,
  async measure() {
    const runs: Run[] = [];
    const backends = workingBackends();
    for (const backend of backends) for (const freeze of [false, true]) for (const rate of RATES) {
      const run = await watchRateWriter(['--pages', '65536', '--rate', String(rate), '--seed', '19'], { backend, freeze, intervalMs: 50, tolerance: 0, maxRounds: 20 });
      runs.push({ backend, freeze, rate, checked: run.alignment?.checked ?? 0, lost: run.alignment?.lost ?? -1, rounds: run.rounds.length, pauseMs: run.summary.pauseMs / Math.max(run.rounds.length, 1) });
    }
    return { runs };
  },
  async render(envs) {
    const md = ['# lost-writes: what a two-step read-and-clear loses, and what freezing saves', '',
      '`watch` at 50 ms for 20 rounds on `rate-writer --pages 65536` at each rate. The target logs every write; a write is lost when it appears in none of the rounds that must hold it (see experiments/lib/align.ts: the count of completed writes is read just before and just after each reset). With soft-dirty, a page written after the scan read it and before clear_refs is never reported; freezing the target (SIGSTOP until every thread stopped, SIGCONT after) closes that window. uffd-wp re-protects each page as PAGEMAP_SCAN reports it, atomically.', ''];
    const answers: string[] = [];
    let ok = envs.length > 0;
    for (const { env, data } of envs) {
      md.push(`## ${env.tag}: kernel ${env.kernel}`, '', environmentLine(env), '');
      md.push(markdownTable(['backend', 'freeze', 'rate (pages/s)', 'writes checked', 'lost', 'lost %', 'pause per round (ms)'],
        data.runs.map((r) => [r.backend, r.freeze ? 'yes' : 'no', r.rate, r.checked, r.lost, r.checked ? (100 * r.lost) / r.checked : 0, r.freeze ? r.pauseMs : '—'])), '');
      ok &&= data.runs.every((r) => r.lost === 0 || (!r.freeze && r.backend !== 'uffd-wp'));
      const parts = [...new Set(data.runs.map((r) => r.backend))].map((b) => {
        const unfrozen = data.runs.filter((r) => r.backend === b && !r.freeze);
        const frozen = data.runs.filter((r) => r.backend === b && r.freeze);
        return `${b}: ${unfrozen.reduce((a, r) => a + r.lost, 0)} of ${unfrozen.reduce((a, r) => a + r.checked, 0)} writes lost unfrozen, ${frozen.reduce((a, r) => a + r.lost, 0)} of ${frozen.reduce((a, r) => a + r.checked, 0)} frozen`;
      });
      answers.push(`${env.tag} (${env.kernel}): ${parts.join('; ')}`);
    }
    return { markdown: md.join('\n'), answer: answers.join('; ') + '.', ok };
  },
};
