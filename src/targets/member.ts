/**
 * Who belongs to a group and who cannot be tracked: the members' shape, where their pids come from,
 * and the processes never admitted (zombies, kernel threads, dirtytrack itself and its ancestors).
 */
import type { DirtyTrackCode } from '../errors.js';
import { isAlive, PF_KTHREAD, readStat, type ProcStat } from '../proc/process.js';
import type { Backend } from '../types.js';

/** Where a group's pids come from, asked again at each refresh. */
export interface MemberSource {
  /** For messages: "pids 12 34", "tree of 12", "cgroup /sys/fs/cgroup/unified/x". */
  readonly label: string;
  pids(): number[];
  /** Pids named once (a list): after the start, a pid seen again is another process, never admitted. */
  readonly fixed?: boolean;
}

export type MemberState = 'tracked' | 'gone' | 'skipped';

export interface Member {
  pid: number;
  comm: string;
  /** With the pid, names the process: a reused pid is another member. */
  startTime: number;
  state: MemberState;
  /** skipped: why; gone: how it was noticed. */
  reason?: string;
  /** skipped for a DirtyTrackError: its code (the exit code when no member at all can be tracked). */
  code?: DirtyTrackCode;
  /** Round (refresh count) it was found in; 0 = at the start. */
  since: number;
  goneAt?: number;
  /** Times it was seen to call execve (tracking restarted in the new address space). */
  execs?: number;
  backend?: Backend;
  /** The address space tracked (proc/image.ts): says when the process exec'd. */
  image?: MemberImage;
}

export interface MemberImage {
  state(): 'running' | 'exited' | 'exec';
  close(): void;
}

export interface Skipped {
  pid: number;
  reason: string;
}

export interface MembershipChange {
  born: number[];
  gone: number[];
  /** Called execve: tracked afresh in the new image. */
  exec: number[];
  skipped: Skipped[];
}

let ancestorPids: Set<number> | undefined;
/** This process's ancestors, read once: they cannot change while it runs (only be reparented away). */
function ancestors(): Set<number> {
  if (!ancestorPids) {
    ancestorPids = new Set();
    for (let s = readStat(process.pid); s && s.ppid > 0 && !ancestorPids.has(s.ppid); s = readStat(s.ppid)) ancestorPids.add(s.ppid);
  }
  return ancestorPids;
}

/** Why `s` can never be tracked, or null. */
export function untrackable(s: ProcStat, alive: (pid: number) => boolean = isAlive): string | null {
  // A zombie leader whose other threads run is a live process (pthread_exit in main): tracked.
  if ((s.state === 'Z' || s.state === 'X') && !alive(s.pid)) return 'zombie: exited, not yet reaped (no memory left)';
  if (s.flags & PF_KTHREAD) return 'kernel thread: no user memory';
  if (s.pid === process.pid) return 'dirtytrack itself';
  if (ancestors().has(s.pid)) return 'an ancestor of dirtytrack (its shell, sudo…): never stopped or injected into';
  return null;
}

/** A fixed list of pids (`dirtytrack watch 12 34 56`). */
export function pidList(pids: number[]): MemberSource {
  return { label: `pids ${pids.join(' ')}`, pids: () => pids, fixed: true };
}
