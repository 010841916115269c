import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { fromSystemError } from '../errors.js';

/** Field 22 of /proc/PID/stat, counted from 1: when the process started, in clock ticks since boot. */
const STAT_STARTTIME = 22;
/** Fields before the state, which comes right after the ')' closing comm (comm may hold ')' and spaces). */
const STAT_FIELDS_BEFORE_STATE = 2;

/** The start time of `pid` (clock ticks after boot): with the pid, it names one process for good. */
export function startTime(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    throw fromSystemError(err, `cannot read /proc/${pid}/stat`, pid);
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[STAT_STARTTIME - STAT_FIELDS_BEFORE_STATE - 1]);
}

function startTimeOrUndefined(pid: number): number | undefined {
  try {
    return startTime(pid);
  } catch {
    return undefined;
  }
}

/** Whether `pid` has an address space at all (a process that is exiting has let go of it). */
function hasMemory(pid: number): boolean {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[0]) > 0;
  } catch {
    return false;
  }
}

export type ImageState = 'running' | 'exited' | 'exec';

/**
 * The memory image of a process as it was when tracking began. An open /proc/PID/pagemap is bound to
 * the address space it was opened on: once that address space is gone, reads return 0 bytes. Gone
 * while the same process (same start time) still has memory means it exec'd a new image; the old
 * image's tracking ended with it. Threads keep the image alive after the main thread exits.
 */
export class ProcessImage {
  private readonly fd: number;
  private readonly started: number;
  private readonly probe = Buffer.alloc(8);

  constructor(readonly pid: number) {
    this.started = startTime(pid);
    try {
      this.fd = openSync(`/proc/${pid}/pagemap`, 'r');
    } catch (err) {
      throw fromSystemError(err, `cannot open /proc/${pid}/pagemap`, pid, `/proc/${pid}/pagemap`);
    }
  }

  state(): ImageState {
    let alive: boolean;
    try {
      alive = readSync(this.fd, this.probe, 0, this.probe.length, 0) === this.probe.length;
    } catch {
      alive = false;
    }
    if (alive) return 'running';
    if (startTimeOrUndefined(this.pid) !== this.started) return 'exited';
    return hasMemory(this.pid) ? 'exec' : 'exited';
  }

  close(): void {
    closeSync(this.fd);
  }
}
