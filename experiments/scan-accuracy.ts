import { workingBackends } from '../src/backends/select.js';
import { runLockstep, totals, type LockstepRun } from './lib/lockstep.js';
import { environmentLine, markdownTable } from './lib/report.js';
import type { Experiment } from './index.js';

const WORKLOADS: Array<[string, string[], string]> = [
  ['stride-writer', ['--pages', '4096', '--stride', '5'], 'C, every 5th page, populated first'],
  ['stride-writer', ['--pages', '1024', '--stride', '1', '--no-populate'], 'C, every page, first touch in the phase'],
  ['random-writer', ['--pages', '8192', '--count', '500', '--seed', '7'], 'C, 500 distinct seeded-random pages'],
  ['readonly', ['--pages', '2048'], 'C, reads every page, writes none'],
  ['node-buffer.mjs', ['--pages', '4096', '--stride', '3'], 'Node, one byte per 3rd page of a 64 MiB ArrayBuffer'],
];
const PHASES = 5;

interface Data { runs: Array<LockstepRun & { label: string; node: boolean }> }

export const scanAccuracy: Experiment<Data> = {
  name: 'scan-accuracy',
  question: 'Does scan find exactly the written pages, for every workload and backend?',
  kernels: true,
  async measure() {
    const backends = workingBackends();
    const runs: Data['runs'] = [];
    for (const backend of backends) {
      for (const [name, args, label] of WORKLOADS) runs.push({ ...(await runLockstep(name, args, PHASES, backend)), label, node: name.endsWith('.mjs') });
    }
    return { runs };
  },
  async render(envs) {
    const md = ['# scan-accuracy: exactly the written pages, for every workload and backend?', '',
      `Each workload runs ${PHASES} lockstep phases after a clear; after each, dirtytrack scans with reset and the pages detected inside the target's region are compared with the pages the target reported writing. For the Node target, precision is not a claim: V8 and the runtime may write into the buffer's neighbourhood only outside it, but the buffer's own pages are only written by the workload — recall over the buffer is the measure.`, ''];
    let ok = envs.length > 0;
    const answers: string[] = [];
    for (const { env, data } of envs) {
      md.push(`## ${env.tag}: kernel ${env.kernel}`, '', environmentLine(env), '');
      const rows = data.runs.map((r) => {
        const t = totals(r.rows);
        ok &&= t.recall === 1 && (r.node || t.precision === 1);
        return [r.backend, r.target, r.label, t.written, t.tp, t.fp, t.fn, t.precision, t.recall, t.meanScanMs];
      });
      md.push(markdownTable(['backend', 'target', 'what it does', 'written', 'found', 'false pos.', 'missed', 'precision', 'recall', 'mean scan ms'], rows), '');
      const sum = (runs: Data['runs'], f: (t: ReturnType<typeof totals>) => number) => runs.reduce((a, r) => a + f(totals(r.rows)), 0);
      const c = data.runs.filter((r) => !r.node), node = data.runs.filter((r) => r.node);
      answers.push(`${env.tag} (${env.kernel}, ${[...new Set(data.runs.map((r) => r.backend))].join(' + ')}): C targets ${sum(c, (t) => t.written)} written pages, ${sum(c, (t) => t.fn)} missed, ${sum(c, (t) => t.fp)} false positives; ` +
        `Node buffer ${sum(node, (t) => t.written)} written, ${sum(node, (t) => t.fn)} missed, ${sum(node, (t) => t.fp)} extra pages reported (transparent huge pages ${env.thp}: a written byte can dirty a whole 2 MiB page)`);
    }
    return { markdown: md.join('\n'), answer: answers.join('; ') + '.', ok };
  },
};
