import { DirtyTrackError, fromSystemError, noSuchProcess } from '../errors.js';
import { isAlive, isStopped, threadStates } from './process.js';
import type { BackendName } from '../types.js';

const sleepArray = new Int32Array(new SharedArrayBuffer(4));
/** Synchronous sleep: the freeze window must not yield to the event loop. */
export function sleepSync(ms: number): void {
  Atomics.wait(sleepArray, 0, 0, ms);
}

/** Processes this tracker stopped itself (and so may resume). One already stopped is never resumed. */
const stoppedHere = new Set<number>();

/** Whether the process has exited (gone, or no thread left running). */
export function processGone(pid: number): boolean {
  return !isAlive(pid);
}

/**
 * Stop every thread of `pid` with SIGSTOP, as CRIU freezes a task before it reads and clears soft-dirty:
 * a write between the scan and the clear would otherwise be lost. Returns once all threads are stopped.
 * A process found stopped already (SIGSTOP, job control, a debugger) is frozen as it is: no signal is
 * sent (a debugger would see it), and thaw() leaves it stopped. Returns whether it was stopped here.
 */
export function freeze(pid: number, timeoutMs = 2000): boolean {
  if (isStopped(pid)) return false;
  try {
    process.kill(pid, 'SIGSTOP');
  } catch (err) {
    throw fromSystemError(err, `cannot stop ${pid}`, pid);
  }
  stoppedHere.add(pid);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const live = threadStates(pid).filter((t) => t.state !== 'Z' && t.state !== 'X');
    if (live.length === 0) {
      stoppedHere.delete(pid);
      throw noSuchProcess(pid, 'exited');
    }
    if (live.every((t) => t.state === 'T' || t.state === 't')) return true;
    if (Date.now() > deadline) {
      thaw(pid);
      throw new DirtyTrackError('ETIMEDOUT', `threads of ${pid} did not stop within ${timeoutMs} ms`, { pid });
    }
    sleepSync(0.05);
  }
}

/** Resume `pid` if freeze() stopped it; a process found stopped stays stopped. */
export function thaw(pid: number): void {
  if (!stoppedHere.delete(pid)) return;
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

/**
 * Whether a watch freezes by default: the soft-dirty backends read and reset in two steps, so they
 * freeze when every process may be signalled; uffd-wp re-protects atomically as it reads and never does.
 */
export function freezeByDefault(backend: BackendName | undefined, pids: readonly number[]): boolean {
  return backend !== 'uffd-wp' && pids.every(canSignal);
}
