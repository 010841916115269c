import { readdirSync, readFileSync } from 'node:fs';
import { cgroupSource } from '../targets/cgroup.js';
import { PF_KTHREAD, readStat } from '../proc/process.js';
import { treeSource } from '../targets/tree.js';

/**
 * What `dirtytrack serve` tracks, re-resolved every round: pids come and go, new processes match, trees
 * grow, cgroups fill. A new kind of target is one more member of TargetSpec and one more case in
 * `sourceOf`; nothing else in the exporter changes.
 */
export type TargetSpec =
  | { kind: 'pid'; pid: number }
  | { kind: 'match'; pattern: string }
  | { kind: 'tree'; pid: number }
  | { kind: 'cgroup'; path: string };

/** One process to track this round, with the labels its series carry. */
export interface Discovered {
  pid: number;
  comm: string;
  /** Its cgroup v2 path, for processes found through --cgroup; '' otherwise. */
  cgroup: string;
}

interface Source {
  pids(procs: ProcTable): number[];
  cgroup?: boolean;
}

/** A snapshot of /proc, read lazily and at most once per round. */
export class ProcTable {
  private list?: number[];
  private readonly cmdlines = new Map<number, string>();

  pids(): number[] {
    return (this.list ??= readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n)).map(Number));
  }

  /** The command line with NULs as spaces; '' for kernel threads and processes already gone. */
  cmdline(pid: number): string {
    let c = this.cmdlines.get(pid);
    if (c === undefined) {
      try {
        c = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0+$/, '').replaceAll('\0', ' ');
      } catch {
        c = '';
      }
      this.cmdlines.set(pid, c);
    }
    return c;
  }
}

/** The source of a spec. Tree and cgroup sources keep state between rounds (targets/tree.ts, cgroup.ts). */
function sourceOf(spec: TargetSpec): Source {
  switch (spec.kind) {
    case 'pid': return { pids: () => [spec.pid] };
    case 'tree': { const t = treeSource(spec.pid); return { pids: () => t.pids() }; }
    case 'cgroup': { const c = cgroupSource(spec.path); return { pids: () => c.pids(), cgroup: true }; }
    case 'match': {
      const re = new RegExp(spec.pattern);
      return { pids: (procs) => procs.pids().filter((pid) => { const cmd = procs.cmdline(pid); return cmd !== '' && re.test(cmd); }) };
    }
  }
}

/** The cgroup v2 path of pid ('0::/a/b' in /proc/PID/cgroup), '' when unknown. */
export function cgroupOf(pid: number): string {
  try {
    return /^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1] ?? '';
  } catch {
    return '';
  }
}

/** This process and its ancestors: a --match pattern also matches `sudo dirtytrack serve --match PATTERN`. */
export function selfAndAncestors(pid = process.pid): Set<number> {
  const out = new Set<number>();
  for (let p = pid; p > 1 && !out.has(p); p = readStat(p)?.ppid ?? 0) out.add(p);
  return out;
}

/** Every process the specs name now, each once: never the exporter or its ancestors, never a kernel thread found by a pattern, tree or cgroup. */
export class Discovery {
  private readonly sources: Array<Source & { explicit: boolean }>;

  constructor(specs: readonly TargetSpec[], private readonly exclude: ReadonlySet<number>) {
    this.sources = specs.map((s) => ({ ...sourceOf(s), explicit: s.kind === 'pid' }));
  }

  find(procs = new ProcTable()): Discovered[] {
    const found = new Map<number, Discovered>();
    for (const src of this.sources) {
      for (const pid of src.pids(procs)) {
        if (this.exclude.has(pid)) continue;
        const prev = found.get(pid);
        if (prev) {
          if (src.cgroup && !prev.cgroup) prev.cgroup = cgroupOf(pid);
          continue;
        }
        const stat = readStat(pid);
        if (!src.explicit && stat && stat.flags & PF_KTHREAD) continue;
        found.set(pid, { pid, comm: stat?.comm ?? '', cgroup: src.cgroup ? cgroupOf(pid) : '' });
      }
    }
    return [...found.values()];
  }
}
