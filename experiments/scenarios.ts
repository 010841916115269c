import { workingBackends } from '../src/backends/select.js';
import type { BackendName } from '../src/types.js';
import { runScenario, SCENARIOS, type ScenarioOutcome } from './lib/scenarios.js';
import { markdownTable } from './lib/report.js';
import type { Experiment } from './index.js';

interface Row { scenario: string; backend: BackendName; outcome?: ScenarioOutcome; error?: string }
interface Data { rows: Row[] }

export const scenarios: Experiment<Data> = {
  name: 'scenarios',
  question: 'What does each kernel report in the scenarios that trip trackers up (populate, THP, mremap, fork, DONTNEED …)?',
  kernels: true,
  async measure() {
    const backends = workingBackends();
    const rows: Row[] = [];
    for (const s of SCENARIOS) for (const backend of backends) {
      try {
        rows.push({ scenario: s.name, backend, outcome: await runScenario(s, backend) });
      } catch (err) {
        rows.push({ scenario: s.name, backend, error: (err as Error).message.split('\n')[0] });
      }
    }
    return { rows };
  },
  async render(envs) {
    const md = ['# scenarios: kernel behaviours against the target\'s own truth', '',
      'The `scenario` target (workloads/scenario.c) runs one sequence after a clear; "written" is what it reports storing to, "detected" what dirtytrack reports inside the regions concerned (present or swapped pages), "raw" the soft-dirty view that also counts unpopulated pages (`--include-unpopulated`). Rows marked exact are promises (tests assert them); the others are measurements.', ''];
    let ok = envs.length > 0;
    const answers: string[] = [];
    for (const { env, data } of envs) {
      md.push(`## ${env.tag}: kernel ${env.kernel} (THP ${env.thp})`, '');
      const rows = data.rows.map((r) => {
        const s = SCENARIOS.find((x) => x.name === r.scenario)!;
        if (!r.outcome) { ok = false; return [r.scenario, r.backend, s.expected, '—', '—', '—', '—', '—', `error: ${r.error}`]; }
        const a = r.outcome.acc;
        const pass = a.recall === 1 && (!s.exact || a.precision === 1);
        ok &&= pass;
        return [r.scenario, r.backend, s.expected, a.written, a.detected, r.outcome.rawDetected, a.recall, a.precision, `${s.exact ? (pass ? 'exact ✓' : 'exact ✗') : 'measured'}${r.outcome.note ? ` — ${r.outcome.note}` : ''}`];
      });
      md.push(markdownTable(['scenario', 'backend', 'kernel documentation says', 'written', 'detected', 'raw', 'recall', 'precision', 'verdict'], rows), '');
      const thp = data.rows.filter((r) => r.scenario.startsWith('transparent huge page') && r.outcome).map((r) => `${r.backend} ${r.outcome!.acc.detected}`);
      const mremap = data.rows.filter((r) => r.scenario.startsWith('mremap') && r.outcome).map((r) => `${r.backend} ${r.outcome!.acc.detected}`);
      answers.push(`${env.tag} (${env.kernel}): ${data.rows.filter((r) => r.outcome && SCENARIOS.find((s) => s.name === r.scenario)!.exact && r.outcome.acc.recall === 1 && r.outcome.acc.precision === 1).length} of ${data.rows.filter((r) => SCENARIOS.find((s) => s.name === r.scenario)!.exact).length} exact rows exact; one byte in a THP reports ${thp.join(', ') || 'n/a'} pages; a moved 64-page mapping reports ${mremap.join(', ') || 'n/a'}`);
    }
    return { markdown: md.join('\n'), answer: answers.join('; ') + '.', ok };
  },
};
