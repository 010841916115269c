import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { workingBackends } from '../src/backends/select.js';
import { cgroup2Mounts, cgroupSource, parseMounts } from '../src/targets/cgroup.js';
import { treeSource } from '../src/targets/tree.js';
import type { BackendName } from '../src/types.js';
import { runGroup, shmemThp, type Churn, type GroupPhase } from './lib/group-run.js';
import { environmentLine, markdownTable } from './lib/report.js';
import type { Experiment } from './index.js';

const FAMILY = ['--pages', '2048', '--count', '200', '--shared-pages', '512', '--shared-count', '150', '--children', '3', '--shared-writers', '2', '--seed', '11'];
const OUTSIDER: [string, string[]] = ['stride-writer', ['--pages', '1024', '--stride', '5']];
const PHASES = 8;
// Before phase 3 the root forks a writer; before 5 the first child exits; before 6 the second execs itself.
const CHURN: Record<number, Churn> = { 3: { op: 'fork' }, 5: { op: 'exit', child: 0 }, 6: { op: 'exec', child: 1 } };

interface Run { backend: BackendName | string; via: 'tree' | 'cgroup'; phases?: GroupPhase[]; error?: string }
interface Data { runs: Run[]; shmemThp: string }

/** The cgroup2 mount; inside a lab guest, mounted here when none is (the host's is never touched). */
function cgroup2Mount(): string {
  const found = cgroup2Mounts(parseMounts(readFileSync('/proc/mounts', 'utf8')))[0];
  if (found || !process.env.DIRTYTRACK_LAB) return found ?? '';
  mkdirSync('/tmp/cgroup2', { recursive: true });
  const r = spawnSync('mount', ['-t', 'cgroup2', 'none', '/tmp/cgroup2'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount -t cgroup2: ${r.stderr.trim()}`);
  return '/tmp/cgroup2';
}

async function inCgroup(backend: BackendName): Promise<GroupPhase[]> {
  const mount = cgroup2Mount();
  if (!mount) throw new Error('no cgroup v2 mounted');
  const dir = join(mount, `dirtytrack-container-${process.pid}`);
  mkdirSync(dir);
  try {
    const run = await runGroup({
      backend, family: FAMILY, phases: PHASES, churn: CHURN, outsiders: [OUTSIDER],
      place: (pids) => { for (const pid of pids) writeFileSync(join(dir, 'cgroup.procs'), String(pid)); },
      source: () => cgroupSource(dir),
    });
    return run.phases;
  } finally {
    rmdirSync(dir);
  }
}

type Acc = { written: number; detected: number; truePositives: number };
function sum(list: Acc[]) {
  const w = list.reduce((a, x) => a + x.written, 0), d = list.reduce((a, x) => a + x.detected, 0), tp = list.reduce((a, x) => a + x.truePositives, 0);
  return { written: w, detected: d, tp, fp: d - tp, fn: w - tp, recall: w ? tp / w : 1, precision: d ? tp / d : 1 };
}

export const container: Experiment<Data> = {
  name: 'container',
  question: 'Tracking a container (a cgroup) or a process tree as one: per process and deduplicated, through forks, exits and execs, how exact is it?',
  kernels: true,
  async measure() {
    const runs: Run[] = [];
    for (const backend of workingBackends()) {
      for (const via of ['tree', 'cgroup'] as const) {
        try {
          const phases = via === 'tree'
            ? (await runGroup({ backend, family: FAMILY, phases: PHASES, churn: CHURN, source: treeSource })).phases
            : await inCgroup(backend);
          runs.push({ backend, via, phases });
        } catch (err) {
          runs.push({ backend, via, error: (err as Error).message.split('\n')[0] });
        }
      }
    }
    return { runs, shmemThp: shmemThp() };
  },
  async render(envs) {
    const md = ['# container: a process group tracked as one, against each process\'s truth', '',
      `Target: \`family ${FAMILY.join(' ')}\` (workloads/family.c): a root and 3 forked children, each writing 200 pages of its private copy-on-write \`main\` per phase; the root and the first child also write 150 pages each of one 512-page memfd they share (so some pages are written through both). Churn: before phase 3 the root forks a new writer, before 5 the first child exits, before 6 the second child execs itself (a new image, which populates its 2048 private pages anew: they count as written). Tracked with \`--tree ROOT\`, and with \`--cgroup\` on a real cgroup v2 group holding the family and an unrelated \`stride-writer --pages 1024 --stride 5\`. Each phase: the group re-reads its membership (new members cleared), the processes write and report, one scan with reset.`,
      '', 'Per process: its reported pages against what its scan found within its regions. Total: private pages per process plus the memfd\'s pages once (keyed by device, inode and page offset, as dirtytrack deduplicates); "merged" is how many pages the total counts once that the rows count twice (truth / dirtytrack).', ''];
    const answers: string[] = [];
    let ok = envs.length > 0;
    for (const { env, data } of envs) {
      md.push(`## ${env.tag}: kernel ${env.kernel}`, '', environmentLine(env) + `; shmem THP ${data.shmemThp}`, '');
      const parts: string[] = [];
      for (const run of data.runs) {
        md.push(`### ${run.backend}, --${run.via}`, '');
        const phases = run.phases;
        if (!phases) {
          ok = false;
          md.push(`error: ${run.error}`, '');
          parts.push(`${run.backend} --${run.via}: error (${run.error})`);
          continue;
        }
        md.push(markdownTable(['phase', 'churn', 'processes', 'written (total)', 'detected', 'false pos.', 'false neg.', 'precision', 'recall', 'merged (truth / reported)', 'born', 'gone'],
          phases.map((p) => [p.phase, p.churn ?? '', p.processes.length, p.total.written, p.total.detected, p.total.falsePositives, p.total.falseNegatives, p.total.precision, p.total.recall, `${p.sharedTruthMerged} / ${p.sharedPagesMerged}`, p.born.join(' '), p.gone.join(' ')])), '');
        const pids = [...new Set(phases.flatMap((p) => p.processes.map((x) => x.pid)))];
        md.push(markdownTable(['pid', 'phases', 'written', 'detected', 'false pos.', 'false neg.', 'precision', 'recall'], pids.map((pid) => {
          const rows = phases.flatMap((p) => p.processes.filter((x) => x.pid === pid).map((x) => x.acc));
          const s = sum(rows);
          return [pid, rows.length, s.written, s.detected, s.fp, s.fn, s.precision, s.recall];
        })), '');
        const total = sum(phases.map((p) => p.total));
        const exact = phases.every((p) => p.total.recall === 1 && p.total.precision === 1 && p.processes.every((x) => x.acc.recall === 1 && x.acc.precision === 1) && p.sharedPagesMerged === p.sharedTruthMerged);
        ok &&= exact;
        parts.push(`${run.backend} --${run.via}: recall ${total.recall.toFixed(3)}, precision ${total.precision.toFixed(3)} over ${total.written} pages${exact ? ', every process and phase exact' : ''}`);
      }
      const merged = data.runs.flatMap((r) => r.phases ?? []).reduce((a, p) => a + p.sharedPagesMerged, 0);
      const rows = data.runs.flatMap((r) => r.phases ?? []).reduce((a, p) => a + p.total.detected + p.sharedPagesMerged, 0);
      md.push(`Summing the per-process rows would have counted ${merged} pages twice (${rows ? ((100 * merged) / rows).toFixed(1) : 0} % of the rows' sum): memfd pages written through both sharers. A pre-copy migration of the container sends each once, so the deduplicated total is the rate to compare with the link.`, '');
      answers.push(`${env.tag} (${env.kernel}): ${parts.join('; ')}`);
    }
    return { markdown: md.join('\n'), answer: answers.join('; ') + '.', ok };
  },
};
