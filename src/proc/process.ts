import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { DirtyTrackError, fromSystemError, noSuchProcess } from '../errors.js';

/**
 * Every question dirtytrack asks /proc about a process (not its memory): liveness, state, threads,
 * tracer, seccomp, start time, architecture. One place, one parser per file (proc(5)).
 */

/** The fields of /proc/PID[/task/TID]/stat that dirtytrack reads. */
export interface ProcStat {
  pid: number;
  comm: string;
  state: string;      // R S D T t Z X I …
  ppid: number;
  flags: number;      // PF_* flags of the task
  startTime: number;  // clock ticks after boot: with the pid, names one process (pids are reused)
}

/** PF_KTHREAD in stat's flags (include/linux/sched.h): a kernel thread has no user memory. */
export const PF_KTHREAD = 0x00200000;

/** Parse a stat line. comm may hold spaces and parentheses: the fields follow its last ')'. */
export function parseStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new DirtyTrackError('EIO', `unparsable stat: ${JSON.stringify(text.slice(0, 80))}`);
  const f = text.slice(close + 2).trim().split(' ');
  // f[0] is field 3 (state); field n is f[n - 3]
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: f[0],
    ppid: Number(f[1]),
    flags: Number(f[6]),
    startTime: Number(f[19]),
  };
}

function taskPath(pid: number, tid?: number): string {
  return tid === undefined ? `/proc/${pid}` : `/proc/${pid}/task/${tid}`;
}

/** The stat of a process (its leader) or of one of its threads; null when gone. */
export function readStat(pid: number, tid?: number): ProcStat | null {
  try {
    return parseStat(readFileSync(`${taskPath(pid, tid)}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** The start time of `pid` (clock ticks after boot): with the pid, it names one process for good. */
export function startTime(pid: number): number {
  const stat = readStat(pid);
  if (!stat) throw noSuchProcess(pid, `no /proc/${pid}/stat`);
  return stat.startTime;
}

/** /proc/PID[/task/TID]/status, or a DirtyTrackError (ESRCH when gone). */
export function readStatus(pid: number, tid?: number): string {
  const path = `${taskPath(pid, tid)}/status`;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw fromSystemError(err, `cannot read ${path}`, pid, path);
  }
}

/** One `Name:\tvalue` field of a status text. */
export function statusField(status: string, name: string): string | undefined {
  return new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1];
}

const exited = (s: ProcStat | null) => s === null || s.state === 'Z' || s.state === 'X';

/** Thread ids of `pid`; [] when it is gone. */
export function threadIds(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

/** Thread ids with their state letter, live or not. */
export function threadStates(pid: number): Array<{ tid: number; state: string }> {
  const out: Array<{ tid: number; state: string }> = [];
  for (const tid of threadIds(pid)) {
    const s = readStat(pid, tid);
    if (s) out.push({ tid, state: s.state });
  }
  return out;
}

/**
 * A thread of `pid` that has not exited: the leader, unless it is a zombie (it called pthread_exit
 * while other threads run); then the first live thread. Undefined when the process has exited.
 */
export function liveThread(pid: number): number | undefined {
  if (!exited(readStat(pid))) return pid;
  return threadIds(pid).find((tid) => !exited(readStat(pid, tid)));
}

/** Whether the process runs: some thread has not exited (a zombie leader with live threads is alive). */
export function isAlive(pid: number): boolean {
  return liveThread(pid) !== undefined;
}

/**
 * Where the memory and descriptor files of `pid` (maps, pagemap, mem, clear_refs, fd, fdinfo) can be
 * read. A leader that has exited has no mm and no descriptor table, so its own files are empty: those
 * of a live thread describe the same memory and descriptors.
 */
export function memDir(pid: number | 'self'): string {
  if (pid === 'self') return '/proc/self';
  const tid = liveThread(pid);
  return tid === undefined || tid === pid ? `/proc/${pid}` : `/proc/${pid}/task/${tid}`;
}

/** Whether every live thread is stopped: by SIGSTOP or job control (T), or by a debugger (t). */
export function isStopped(pid: number): boolean {
  const live = threadStates(pid).filter((t) => t.state !== 'Z' && t.state !== 'X');
  return live.length > 0 && live.every((t) => t.state === 'T' || t.state === 't');
}

/** The pid of the process tracing `pid` (0 when none). */
export function tracerOf(pid: number, tid?: number): number {
  return Number(statusField(readStatus(pid, tid), 'TracerPid') ?? 0);
}

export interface SeccompStatus {
  /** 0 disabled, 1 strict, 2 filter (seccomp(2)). */
  mode: 0 | 1 | 2;
  /** Filters attached to the thread (Seccomp_filters:, Linux 5.9+; undefined before). */
  filters?: number;
}

/** Seccomp state of one thread (filters are per thread). */
export function seccompOf(pid: number, tid = pid): SeccompStatus {
  const status = readStatus(pid, tid);
  const mode = Number(statusField(status, 'Seccomp') ?? 0) as 0 | 1 | 2;
  const filters = statusField(status, 'Seccomp_filters');
  return { mode, filters: filters === undefined ? undefined : Number(filters) };
}

/**
 * Check that `pid` names a process dirtytrack can track: it exists, is a process and not one of its
 * threads, and has user memory. Bad input is a usage error (exit 2), a process gone ESRCH (exit 3).
 */
export function checkProcess(pid: number): void {
  let status: string;
  try {
    status = readStatus(pid);
  } catch (err) {
    throw err instanceof DirtyTrackError && err.code === 'ESRCH' ? noSuchProcess(pid, `/proc/${pid} does not exist`, { cause: err }) : err;
  }
  const tgid = Number(statusField(status, 'Tgid'));
  if (tgid !== pid) throw new DirtyTrackError('EUSAGE', `${pid} is a thread of process ${tgid}: give the process id ${tgid}`, { pid });
  const stat = readStat(pid);
  if (stat && (stat.flags & PF_KTHREAD) !== 0) throw new DirtyTrackError('EUSAGE', `${pid} is a kernel thread (${statusField(status, 'Name')}): it has no user memory to track`, { pid });
  if (!isAlive(pid)) throw noSuchProcess(pid, 'exited');
}

/** The word size of the program `pid` runs, from the ELF header of /proc/PID/exe. */
export function elfClass(pid: number): 32 | 64 | undefined {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/exe`, 'r');
  } catch {
    return undefined; // unreadable: the injection helper still checks the code segment
  }
  try {
    const head = Buffer.alloc(5);
    if (readSync(fd, head, 0, 5, 0) < 5 || head.readUInt32BE(0) !== 0x7f454c46) return undefined;
    return head[4] === 1 ? 32 : head[4] === 2 ? 64 : undefined;
  } finally {
    closeSync(fd);
  }
}

/** Clock ticks per second of /proc start times (USER_HZ: 100 on every Linux architecture Node runs on). */
export const USER_HZ = 100;

/** When `pid` started, in ms since the epoch (to within a tick), from its stat and the boot time. */
export function startedAtMs(pid: number): number | undefined {
  const s = readStat(pid);
  if (!s) return undefined;
  return bootTimeMs() + (s.startTime * 1000) / USER_HZ;
}

function bootTimeMs(): number {
  // /proc/uptime counts from boot on the same clock as start times (CLOCK_BOOTTIME), in 10 ms steps.
  const up = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return Date.now() - up * 1000;
}
