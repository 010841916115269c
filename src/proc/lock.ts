import { accessSync, constants, mkdirSync, readdirSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirtyTrackError, fromSystemError } from '../errors.js';
import { startTime } from './process.js';

/**
 * One tracker per process. Resets are global to the target (clear_refs, PAGEMAP_SCAN's write-protect),
 * so two trackers corrupt each other's rounds: the second is refused.
 *
 * A lock is a directory per target, named by its pid and start time (a reused pid never matches), with
 * one empty file per holder, named by the holder's pid and start time. A newcomer adds its file, then
 * lists the directory: any other live holder means it lost (of two newcomers at once, the later lister
 * always sees the earlier one; both may lose, never both win). Holders that died are recognised by
 * their name and removed by whoever sees them, so a stale lock never blocks.
 */
export interface TargetLock {
  readonly pid: number;
  release(): void;
}

/**
 * Where locks live: /run/dirtytrack (tmpfs, emptied at boot) when this user may write there (root), else a
 * directory of this user's under tmpdir: an unprivileged tracker is excluded from its own kind only.
 */
function lockRoot(): string {
  const wanted = process.env.DIRTYTRACK_LOCK_DIR;
  const candidates = wanted ? [wanted] : ['/run/dirtytrack', join(tmpdir(), `dirtytrack-locks-${process.getuid?.() ?? 0}`)];
  for (const dir of candidates) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      accessSync(dir, constants.W_OK);
      return dir;
    } catch {
      // not ours to write: try the next
    }
  }
  throw new DirtyTrackError('ESYSTEM', `cannot create a lock directory: tried ${candidates.join(', ')}`);
}

/** `<pid>-<start time>`: the name of a holder, and of a target's directory. */
const holderName = (pid: number, start: number) => `${pid}-${start}`;

function parseHolder(name: string): { pid: number; start: number } | undefined {
  const m = /^(\d+)-(\d+)$/.exec(name);
  return m ? { pid: Number(m[1]), start: Number(m[2]) } : undefined;
}

function holderAlive(h: { pid: number; start: number }): boolean {
  try {
    return startTime(h.pid) === h.start;
  } catch {
    return false;
  }
}

function lockedBy(pid: number, holder: number): DirtyTrackError {
  const who = holder === process.pid ? 'this process' : `dirtytrack pid ${holder}`;
  return new DirtyTrackError('ELOCKED', `${pid} is already tracked by ${who}: two trackers would reset each other's rounds; wait for it to end`, { pid });
}

let myName: string | undefined;

/** Remove the directories of targets that are gone (their trackers were killed): nobody can lock those again. */
function sweepGoneTargets(root: string): void {
  for (const name of readdirSync(root)) {
    const target = parseHolder(name);
    if (!target || holderAlive(target)) continue;
    try {
      rmSync(join(root, name), { recursive: true, force: true });
    } catch {
      // another tracker swept it first
    }
  }
}

/** Take the lock on `pid` or throw ELOCKED naming the holder (ESRCH when there is no such process). */
export function lockTarget(pid: number): TargetLock {
  const root = lockRoot();
  const dir = join(root, holderName(pid, startTime(pid)));
  sweepGoneTargets(root);
  myName ??= holderName(process.pid, startTime(process.pid));
  const mine = join(dir, myName);
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(mine, '', { flag: 'wx' });
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw lockedBy(pid, process.pid);
      if (code !== 'ENOENT' || attempt > 3) throw fromSystemError(err, `cannot create the lock ${mine}`, undefined, mine); // ENOENT: a releasing holder removed the directory
    }
  }
  let release = () => {
    release = () => {};
    try {
      unlinkSync(mine);
      rmdirSync(dir); // fails while others wait in it: theirs to remove
    } catch {
      // already removed, or not empty
    }
  };
  for (const name of readdirSync(dir)) {
    if (name === myName) continue;
    const holder = parseHolder(name);
    if (holder && holderAlive(holder)) {
      release();
      throw lockedBy(pid, holder.pid);
    }
    try {
      unlinkSync(join(dir, name)); // its holder died without releasing
    } catch {
      // another newcomer removed it first
    }
  }
  return { pid, release: () => release() };
}

/** The pid of a live tracker holding `pid`, if any (doctor reports it). */
export function lockHolder(pid: number): number | undefined {
  let names: string[];
  try {
    names = readdirSync(join(lockRoot(), holderName(pid, startTime(pid))));
  } catch {
    return undefined; // no lock directory: nobody holds it
  }
  return names.map(parseHolder).find((h) => h !== undefined && holderAlive(h))?.pid;
}
