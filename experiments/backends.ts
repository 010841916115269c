import { workingBackends } from '../src/backends/select.js';
import type { BackendName } from '../src/types.js';
import { runLockstep, totals, type LockstepRun } from './lib/lockstep.js';
import { environmentLine, markdownTable } from './lib/report.js';
import type { Experiment } from './index.js';

const WORKLOADS: Array<[string, string[]]> = [
  ['stride-writer', ['--pages', '16384', '--stride', '16']],
  ['random-writer', ['--pages', '16384', '--count', '1000', '--seed', '23']],
  ['readonly', ['--pages', '16384']],
];
const PHASES = 4;

interface Data { backends: BackendName[]; runs: Array<LockstepRun & { workload: string }> }

export const backendsExperiment: Experiment<Data> = {
  name: 'backends',
  question: 'Do the backends agree page for page, and what does each cost per scan?',
  kernels: true,
  async measure() {
    const backends = workingBackends();
    const runs: Data['runs'] = [];
    for (const [name, args] of WORKLOADS) for (const b of backends) runs.push({ ...(await runLockstep(name, args, PHASES, b)), workload: `${name} ${args.join(' ')}` });
    return { backends, runs };
  },
  async render(envs) {
    const md = ['# backends: agreement and scan time on the same workloads', '',
      `Each workload (64 MiB region, deterministic pages) runs ${PHASES} lockstep phases once per backend. "agrees" compares, phase by phase, the set of pages detected in the region (relative to its start) with the first backend's; scan time is the whole-process scan with reset.`, ''];
    const answers: string[] = [];
    let ok = envs.length > 0;
    for (const { env, data } of envs) {
      md.push(`## ${env.tag}: kernel ${env.kernel}`, '', environmentLine(env), '', `Backends that work here: ${data.backends.join(', ')}.`, '');
      const rows = [];
      let agreeAll = true;
      for (const [name, args] of WORKLOADS) {
        const w = `${name} ${args.join(' ')}`;
        const runs = data.runs.filter((r) => r.workload === w);
        const ref = runs[0];
        for (const r of runs) {
          const agree = r.rows.every((row, i) => row.digest === ref.rows[i]?.digest);
          agreeAll &&= agree;
          const t = totals(r.rows);
          const scans = r.rows.map((x) => x.scanMs).sort((a, b) => a - b);
          rows.push([w, r.backend, t.recall, t.precision, r === ref ? 'reference' : agree ? 'identical' : 'DIFFERENT', scans[Math.floor(scans.length / 2)], scans[0], scans.at(-1)]);
        }
      }
      ok &&= agreeAll;
      md.push(markdownTable(['workload', 'backend', 'recall', 'precision', 'agrees', 'median scan ms', 'min', 'max'], rows), '');
      if (env.tag !== 'host') md.push('Times under QEMU software emulation compare backends with each other only; they are not performance figures (see results/bench.md).', '');
      answers.push(`${env.tag} (${env.kernel}): ${data.backends.join(', ')} ${agreeAll ? 'report identical page sets in every phase' : 'DISAGREE'}`);
    }
    return { markdown: md.join('\n'), answer: answers.join('; ') + '.', ok };
  },
};
