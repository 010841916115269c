/**
 * `--tree PID`: a process and all its descendants, re-read every round (children come and go).
 * Children are found through /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN, as CRIU uses it);
 * where the kernel lacks that file, from the ppid of every /proc/N/stat.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readStat } from '../proc/process.js';

/** Pids of `root` and every descendant, root first, given (pid, ppid) pairs: pure, for fixtures. */
export function descendantsFrom(root: number, edges: Iterable<{ pid: number; ppid: number }>): number[] {
  const children = new Map<number, number[]>();
  for (const { pid, ppid } of edges) {
    if (pid === root) continue; // a pid cannot be its own descendant, whatever a racing read says
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  return walk(root, (p) => children.get(p) ?? []);
}

function walk(root: number, childrenOf: (pid: number) => number[]): number[] {
  const out = [root];
  const seen = new Set(out);
  for (let i = 0; i < out.length; i++) {
    for (const c of childrenOf(out[i])) {
      if (seen.has(c)) continue;
      seen.add(c);
      out.push(c);
    }
  }
  return out;
}

/** Parse one task's children file: space-separated pids. */
export function parseChildren(text: string): number[] {
  return text.split(/\s+/).filter((s) => s !== '').map(Number);
}

/** Children of every thread of `pid` (a thread may fork too); [] when it is gone. */
export function readChildren(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tids) {
    try {
      out.push(...parseChildren(readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8')));
    } catch {
      // the thread exited meanwhile
    }
  }
  return out;
}

let childrenFile: boolean | undefined;
/** Whether this kernel has /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN). */
function hasChildrenFile(): boolean {
  if (childrenFile === undefined) {
    try {
      readFileSync(`/proc/self/task/${process.pid}/children`);
      childrenFile = true;
    } catch {
      childrenFile = false;
    }
  }
  return childrenFile;
}

/** Every (pid, ppid) on the system, from /proc/N/stat. */
export function allParents(): Array<{ pid: number; ppid: number }> {
  const out: Array<{ pid: number; ppid: number }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) out.push({ pid: s.pid, ppid: s.ppid });
  }
  return out;
}

/** `root` and its descendants now, root first; [] when root is gone. */
export function treePids(root: number): number[] {
  if (!readStat(root)) return [];
  return hasChildrenFile() ? walk(root, readChildren) : descendantsFrom(root, allParents());
}

/**
 * The tree of `root` as a group re-reads it: its descendants, and those of every process found
 * earlier. An orphan (its parent exited: reparented to init or a subreaper) stays in the tree, as
 * CRIU keeps it in a dump. A pid reused by an unrelated process is not followed (start time differs).
 */
export function treeSource(root: number): { label: string; pids(): number[] } {
  const rootStart = readStat(root)?.startTime;
  let known = new Map<number, number>(rootStart === undefined ? [] : [[root, rootStart]]); // pid → start time
  return {
    label: `tree of ${root}`,
    pids() {
      const roots = [...known].filter(([pid, start]) => readStat(pid)?.startTime === start).map(([pid]) => pid);
      const found = new Map<number, number>();
      for (const r of roots) {
        if (found.has(r)) continue;
        for (const pid of treePids(r)) {
          const s = readStat(pid);
          if (s) found.set(pid, s.startTime);
        }
      }
      known = found;
      return [...found.keys()];
    },
  };
}
