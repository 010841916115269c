import { readFileSync } from 'node:fs';
import type { BackendChoice } from '../../src/backends/select.js';
import { pidKey, sharedKey } from '../../src/targets/aggregate.js';
import { GroupTracker, type GroupScan } from '../../src/targets/group.js';
import type { MemberSource } from '../../src/targets/member.js';
import { readMaps } from '../../src/proc/maps.js';
import { accuracy, type Accuracy } from './metrics.js';
import { Family, type ProcTruth } from './family.js';
import { Target } from './target.js';

/** What happens before a phase's writes (the tracker refreshes its membership right after). */
export type Churn = { op: 'fork' } | { op: 'exit'; child: number } | { op: 'exec'; child: number };

export interface GroupPhase {
  phase: number;
  churn?: string;
  /** Per process that wrote: its pages (private and shared, virtual) against its own scan. */
  processes: Array<{ pid: number; acc: Accuracy }>;
  /** The deduplicated total: private pages per process plus the memfd's pages once. */
  total: Accuracy;
  sharedTruthMerged: number;
  sharedPagesMerged: number;
  born: number[];
  gone: number[];
  skipped: number;
}

export interface GroupRunOptions {
  backend: BackendChoice;
  family: string[];
  phases: number;
  churn?: Record<number, Churn>;
  /** The group as the tracker sees it, given the family (its root pid) and any outsider. */
  source: (root: number) => MemberSource;
  /** Extra lockstep targets in the group that are not in the family's tree (cgroup runs). */
  outsiders?: Array<[string, string[]]>;
  /** Called with every process pid once the processes exist (to put them in a cgroup). */
  place?: (pids: number[]) => void;
}

/** Truth and detection as keyed page strings ("pid:12/4096", "shm/3"), restricted to the targets' regions. */
function keyed(truths: ProcTruth[], outsiders: Array<{ pid: number; truth: Set<number> }>): Set<string> {
  const out = new Set<string>();
  for (const t of truths) {
    for (const p of t.pages) if (!isShared(t, p)) out.add(`${pidKey(t.pid)}/${p}`);
    for (const s of t.shared) out.add(`shm/${s}`);
  }
  for (const o of outsiders) for (const p of o.truth) out.add(`${pidKey(o.pid)}/${p}`);
  return out;
}

const isShared = (t: ProcTruth, page: number) => page >= t.regions.shm.startPage && page < t.regions.shm.startPage + t.regions.shm.pages;

/** The shared object's key (memfd, or the file of --shared-file), from the root's mapping of `shm`. */
function sharedObjectKey(family: Family): string {
  const start = family.root.region('shm').start;
  const r = readMaps(family.pid).find((x) => x.start === start);
  const key = r && sharedKey(r);
  if (!key) throw new Error(`family ${family.pid}: no shared mapping at 0x${start.toString(16)}`);
  return key;
}

/**
 * Run the family (and outsiders) under a group tracker in lockstep: clear, then per phase an optional
 * churn, a membership refresh (new members cleared), the writes, one scan with reset. Every number is
 * checked against what the processes report writing.
 */
export async function runGroup(o: GroupRunOptions): Promise<{ backend: string; phases: GroupPhase[] }> {
  const family = await Family.spawn(o.family);
  const outsiders: Target[] = [];
  let group: GroupTracker | undefined;
  try {
    for (const [name, args] of o.outsiders ?? []) outsiders.push(await Target.spawn(name, args));
    o.place?.([...family.procs, ...outsiders.map((t) => t.pid)]);
    const shmKey = sharedObjectKey(family);
    group = new GroupTracker(o.source(family.pid), { backend: o.backend });
    group.refresh(true);
    const phases: GroupPhase[] = [];
    let regions = new Map<number, ProcTruth['regions']>();
    for (let phase = 1; phase <= o.phases; phase++) {
      const churn = o.churn?.[phase];
      const children = family.procs.slice(1);
      if (churn?.op === 'fork') await family.fork();
      if (churn?.op === 'exit') await family.exitChild(children[churn.child]);
      if (churn?.op === 'exec') await family.execChild(children[churn.child]);
      const change = group.refresh(true);
      const truths = await family.write();
      // A program just exec'd populated its new private region before serving again: those stores are writes too.
      const execed = churn?.op === 'exec' ? truths.find((t) => t.pid === children[churn.child]) : undefined;
      if (execed) for (let i = 0; i < execed.regions.main.pages; i++) execed.pages.add(execed.regions.main.startPage + i);
      const outsiderTruth = [];
      for (const t of outsiders) outsiderTruth.push({ pid: t.pid, truth: await t.write(), region: t.region() });
      const scan = group.scan({ reset: true });
      regions = new Map(truths.map((t) => [t.pid, t.regions]));
      phases.push(measure(phase, churn, truths, outsiderTruth, scan, shmKey, regions, change.born, [...change.gone, ...scan.gone], group.skipped().length));
    }
    return { backend: group.backendName() ?? String(o.backend), phases };
  } finally {
    group?.close();
    for (const t of outsiders) await t.exit();
    await family.exit();
  }
}

function measure(phase: number, churn: Churn | undefined, truths: ProcTruth[], outsiders: Array<{ pid: number; truth: Set<number>; region: { startPage: number; pages: number } }>,
  scan: GroupScan, shmKey: string, regions: Map<number, ProcTruth['regions']>, born: number[], gone: number[], skipped: number): GroupPhase {
  const within = (pid: number, page: number) => {
    const r = regions.get(pid);
    const o = outsiders.find((x) => x.pid === pid);
    const spans = r ? Object.values(r) : o ? [o.region] : [];
    return spans.some((s) => page >= s.startPage && page < s.startPage + s.pages);
  };
  const processes = [...truths.map((t) => ({ pid: t.pid, truth: t.pages })), ...outsiders].map(({ pid, truth }) => {
    const s = scan.scans.find((x) => x.pid === pid);
    const found = new Set<number>();
    for (const r of s?.regions ?? []) for (const [a, b] of r.dirty) for (let p = a; p < b; p++) if (within(pid, p)) found.add(p);
    return { pid, acc: accuracy(truth, found) };
  });
  const detected = new Set<string>();
  for (const [key, runs] of scan.sets) {
    for (let i = 0; i < runs.length; i += 2) for (let p = runs[i]; p < runs[i + 1]; p++) {
      if (key === shmKey) {
        if (p < (truths[0]?.regions.shm.pages ?? 0)) detected.add(`shm/${p}`);
      } else if (key.startsWith('pid:')) {
        const pid = Number(key.slice(4));
        const r = regions.get(pid);
        const inPrivate = r ? p >= r.main.startPage && p < r.main.startPage + r.main.pages : outsiders.some((o) => o.pid === pid && within(pid, p));
        if (inPrivate) detected.add(`${key}/${p}`);
      }
    }
  }
  const truthKeys = keyed(truths, outsiders);
  const sharedSum = truths.reduce((a, t) => a + t.shared.size, 0);
  const sharedUnion = new Set(truths.flatMap((t) => [...t.shared])).size;
  return {
    phase,
    churn: churn ? `${churn.op}${'child' in churn ? ` child ${churn.child}` : ''}` : undefined,
    processes,
    total: accuracy(truthKeys, detected),
    sharedTruthMerged: sharedSum - sharedUnion,
    sharedPagesMerged: scan.sharedPagesMerged,
    born,
    gone,
    skipped,
  };
}

/** Kernel and THP, for reports. */
export function shmemThp(): string {
  try {
    return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/shmem_enabled', 'utf8'))?.[1] ?? 'absent';
  } catch {
    return 'absent';
  }
}
