import { readdirSync, readFileSync } from 'node:fs';
import { DirtyTrackError, fromSystemError, noSuchProcess } from '../errors.js';

const sleepArray = new Int32Array(new SharedArrayBuffer(4));
/** Synchronous sleep: the freeze window must not yield to the event loop. */
export function sleepSync(ms: number): void {
  Atomics.wait(sleepArray, 0, 0, ms);
}

function taskStates(pid: number): string[] {
  const states: string[] = [];
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch (err) {
    throw fromSystemError(err, `cannot list threads of ${pid}`, pid);
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      states.push(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
    } catch {
      // thread exited meanwhile
    }
  }
  return states;
}

/** Whether the process has exited (gone, or a zombie waiting to be reaped). */
export function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

/**
 * Stop every thread of `pid` with SIGSTOP, as CRIU freezes a task before it reads and clears soft-dirty:
 * a write between the scan and the clear would otherwise be lost. Returns once all threads are stopped.
 */
export function freeze(pid: number, timeoutMs = 2000): void {
  try {
    process.kill(pid, 'SIGSTOP');
  } catch (err) {
    throw fromSystemError(err, `cannot stop ${pid}`, pid);
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = taskStates(pid);
    if (states.length === 0 || states.every((s) => s === 'Z' || s === 'X')) throw noSuchProcess(pid, 'exited');
    if (states.every((s) => s === 'T' || s === 't' || s === 'Z' || s === 'X')) return;
    if (Date.now() > deadline) {
      thaw(pid);
      throw new DirtyTrackError('ETIMEDOUT', `threads of ${pid} did not stop within ${timeoutMs} ms`, { pid });
    }
    sleepSync(0.05);
  }
}

export function thaw(pid: number): void {
  try {
    process.kill(pid, 'SIGCONT');
  } catch {
    // exited while frozen: nothing to resume
  }
}

/** Whether this process may signal `pid` (then --freeze is permitted). */
export function canSignal(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
