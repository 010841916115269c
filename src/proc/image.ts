import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { fromSystemError } from '../errors.js';
import { memDir, readStat, startTime } from './process.js';

/** /proc/PID/statm in pages: total size and resident; undefined when unreadable (gone). */
export function statmPages(pid: number): { size: number; resident: number } | undefined {
  try {
    const [size, resident] = readFileSync(`${memDir(pid)}/statm`, 'utf8').split(' ').map(Number); // a live thread's when the leader has exited
    return { size, resident };
  } catch {
    return undefined;
  }
}

/** Whether `pid` has an address space at all (a process that is exiting has let go of it). */
const hasMemory = (pid: number) => (statmPages(pid)?.size ?? 0) > 0;

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
      this.fd = openSync(`${memDir(pid)}/pagemap`, 'r'); // bound to the mm: a zombie leader's has none
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
    if (readStat(this.pid)?.startTime !== this.started) return 'exited';
    return hasMemory(this.pid) ? 'exec' : 'exited';
  }

  close(): void {
    closeSync(this.fd);
  }
}
