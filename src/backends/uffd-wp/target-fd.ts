import { closeSync, fstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { codeForErrno, DirtyTrackError, fromSystemError, noSuchProcess } from '../../errors.js';
import { O_CLOEXEC, O_NONBLOCK, TRACKER_FEATURES, UFFD_FEATURE_INITIALIZED, UFFD_USER_MODE_ONLY } from '../../kernel/abi.js';
import { describeResult, injectSyscall, SYS } from './inject.js';
import { mayBeRegistered } from './policy.js';
import { readMaps } from '../../proc/maps.js';
import { liveThread, memDir, readStat, startedAtMs } from '../../proc/process.js';
import { kernelRelease } from '../../kernel/info.js';
import { isNativeError, nativeFailure, requireNative, type NativeBinding } from '../../native/binding.js';
import type { MapsRegion } from '../../types.js';

/**
 * The userfaultfd's life inside the target: find the one an earlier tracker left, create one, take a
 * copy, close it again, detach. Only a descriptor bound to the target's own memory is ever used: a
 * child forked from a tracked process inherits its parent's descriptor, whose every ioctl acts on the
 * parent's memory.
 */

const { errno } = constants;
const PIDFD_THREAD = 0o200; // O_EXCL (Linux 6.9)
const UFFD_LINK = 'anon_inode:[userfaultfd]';

/**
 * Slack between a descriptor's creation time (the inode's ctime, from a coarse clock) and a process's
 * start time (clock ticks after boot, converted with /proc/uptime's 10 ms steps).
 */
const CLOCK_SLACK_MS = 50;

export interface TargetUffd {
  /** Descriptor number in the target. */
  fd: number;
  ino: number;
  /** When the descriptor was created (ms since the epoch). */
  createdMs: number;
  /**
   * Whether it is bound to the target's own memory. A descriptor inherited at fork is younger than
   * the child holding it, and its creator (an ancestor) usually holds it too: own means the process
   * existed when the descriptor was created and no ancestor holds the same file.
   */
  own: boolean;
}

/** Every userfaultfd in `pid` with exactly this tracker's features, own or inherited. */
export function trackerUffds(pid: number): TargetUffd[] {
  const dir = memDir(pid);
  let names: string[];
  try {
    names = readdirSync(`${dir}/fd`);
  } catch (err) {
    throw fromSystemError(err, `cannot list /proc/${pid}/fd`, pid, `/proc/${pid}/fd`);
  }
  const started = startedAtMs(pid);
  const found: TargetUffd[] = [];
  for (const name of names) {
    try {
      if (readlinkSync(`${dir}/fd/${name}`) !== UFFD_LINK) continue;
      const info = readFileSync(`${dir}/fdinfo/${name}`, 'utf8');
      // API:\t<api>:<features>:<ioctls>, all hex (fs/userfaultfd.c, userfaultfd_show_fdinfo)
      const m = /^API:\s*[0-9a-f]+:([0-9a-f]+):/m.exec(info);
      if (!m || (BigInt('0x' + m[1]) & ~UFFD_FEATURE_INITIALIZED) !== TRACKER_FEATURES) continue;
      const st = statSync(`${dir}/fd/${name}`);
      const own = started !== undefined && started <= st.ctimeMs + CLOCK_SLACK_MS && !heldByAncestor(pid, st.ino);
      found.push({ fd: Number(name), ino: st.ino, createdMs: st.ctimeMs, own });
    } catch {
      // closed meanwhile: not ours to worry about
    }
  }
  return found;
}

/**
 * Whether a parent, grandparent … of `pid` holds the userfaultfd with inode `ino`. This process is
 * passed over: a tracker that spawned its target holds copies of the target's own descriptors.
 */
function heldByAncestor(pid: number, ino: number): boolean {
  for (let a = readStat(pid)?.ppid ?? 0, hops = 0; a > 1 && hops < 64; a = readStat(a)?.ppid ?? 0, hops++) {
    if (a !== process.pid && uffdInodes(a).has(ino)) return true;
  }
  return false;
}

/** The userfaultfds this tracker created in `pid` itself (never one it inherited). */
export function findTrackerUffds(pid: number): TargetUffd[] {
  return trackerUffds(pid).filter((u) => u.own);
}

/** Inode numbers of every userfaultfd of `pid`. */
function uffdInodes(pid: number): Set<number> {
  const inos = new Set<number>();
  const dir = `${memDir(pid)}/fd`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return inos; // gone, or not ours to read
  }
  for (const name of names) {
    try {
      if (readlinkSync(`${dir}/${name}`) === UFFD_LINK) inos.add(statSync(`${dir}/${name}`).ino);
    } catch {
      // closed meanwhile
    }
  }
  return inos;
}

/** A copy here of descriptor `targetFd` of `pid`. */
export function takeDescriptor(pid: number, targetFd: number): number {
  const binding = requireNative('uffd-wp');
  // A leader that has exited has no descriptor table: go through a live thread (all share one).
  const tid = liveThread(pid);
  if (tid === undefined) throw noSuchProcess(pid, 'exited');
  let pidfd: number;
  try {
    pidfd = binding.pidfdOpen(tid, tid === pid ? 0 : PIDFD_THREAD);
  } catch (err) {
    throw processFailure(err, `pidfd_open(${tid})`, pid);
  }
  try {
    return binding.pidfdGetfd(pidfd, targetFd);
  } catch (err) {
    throw processFailure(err, `pidfd_getfd(${pid}, ${targetFd})`, pid);
  } finally {
    closeSync(pidfd);
  }
}

function processFailure(err: unknown, what: string, pid: number): DirtyTrackError {
  if (isNativeError(err) && err.code === 'ESRCH') return noSuchProcess(pid, what, { cause: err });
  if (isNativeError(err) && (err.code === 'EPERM' || err.code === 'EACCES')) {
    return new DirtyTrackError(err.code, `permission denied: ${what}; needs the right to ptrace ${pid} (root or CAP_SYS_PTRACE)`, { pid, syscall: err.syscall, cause: err });
  }
  return nativeFailure(err, what, pid);
}

/** The lowest descriptor number free in `pid`: where its next descriptor lands. */
function nextFreeFd(pid: number): number {
  let names: string[];
  try {
    names = readdirSync(`${memDir(pid)}/fd`);
  } catch (err) {
    throw fromSystemError(err, `cannot list /proc/${pid}/fd`, pid, `${memDir(pid)}/fd`); // ENOENT: it exited meanwhile
  }
  const used = new Set(names.map(Number));
  let n = 0;
  while (used.has(n)) n++;
  return n;
}

/**
 * Create a userfaultfd inside `pid`; returns its number and inode there. Refused before anything is
 * injected unless seccomp would also let dirtytrack close it again. The result is trusted only when
 * it names a userfaultfd that did not exist before: a call that never ran leaves its number (or
 * anything) in the result register, which must never be taken for a descriptor.
 */
export function createInTarget(pid: number): { fd: number; ino: number } {
  const flags = BigInt(O_CLOEXEC | O_NONBLOCK);
  // The close at the end must be allowed outright: an ERRNO there would leave the descriptor behind.
  injectSyscallCheckOnly(pid, SYS.close, [BigInt(nextFreeFd(pid))]);
  const before = uffdInodes(pid);
  let r = injectSyscall(pid, SYS.userfaultfd, [flags]);
  if (r === -1n) r = injectSyscall(pid, SYS.userfaultfd, [flags | BigInt(UFFD_USER_MODE_ONLY)]); // EPERM: vm.unprivileged_userfaultfd = 0
  if (r < 0n) {
    const name = describeResult(r);
    const hint = name === 'ENOSYS' ? 'kernel built without CONFIG_USERFAULTFD' : name === 'EPERM' ? 'forbidden by vm.unprivileged_userfaultfd or a seccomp filter in the target' : 'the call failed in the target';
    throw new DirtyTrackError(name === 'ENOSYS' ? 'ENOTSUP' : codeForErrno(name), `userfaultfd() failed inside ${pid}: ${name} (${hint})`, { pid, syscall: 'userfaultfd' });
  }
  const fd = Number(r);
  let ino: number | undefined;
  try {
    if (readlinkSync(`${memDir(pid)}/fd/${fd}`) === UFFD_LINK) ino = statSync(`${memDir(pid)}/fd/${fd}`).ino;
  } catch {
    // no such descriptor
  }
  if (ino === undefined || before.has(ino)) {
    throw new DirtyTrackError('EIO', `userfaultfd() injected into ${pid} returned ${r}, which is not a new userfaultfd: the call did not run; nothing was changed in ${pid}`, { pid, syscall: 'userfaultfd' });
  }
  return { fd, ino };
}

/** Throws, as injectSyscall would, when seccomp would not allow `nr` outright; injects nothing. */
function injectSyscallCheckOnly(pid: number, nr: number, args: bigint[]): void {
  injectSyscall(pid, nr, args, { errnoOk: false, checkOnly: true });
}

/**
 * Close descriptor `targetFd` inside `pid`, if it is still the file with inode `ino` (never a
 * descriptor the target opened itself). Quiet when the process is gone.
 */
export function closeInTarget(pid: number, targetFd: number, ino: number): void {
  const current = () => {
    try {
      return statSync(`${memDir(pid)}/fd/${targetFd}`).ino;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // the process or the descriptor is gone
      throw fromSystemError(err, `cannot check descriptor ${targetFd} of ${pid}`, pid); // e.g. no longer allowed to trace it
    }
  };
  if (current() !== ino) return; // closed (and the number maybe reused) by the target itself
  let r: bigint;
  try {
    r = injectSyscall(pid, SYS.close, [BigInt(targetFd)], { errnoOk: false });
  } catch (err) {
    if (err instanceof DirtyTrackError && err.code === 'ESRCH') return;
    throw err;
  }
  if (r !== 0n && r !== -BigInt(errno.EBADF)) throw new DirtyTrackError(codeForErrno(describeResult(r)), `close(${targetFd}) failed inside ${pid}: ${describeResult(r)}`, { pid });
  if (r === 0n && current() === ino) throw new DirtyTrackError('EIO', `close(${targetFd}) injected into ${pid} did not run: its userfaultfd stays open (dirtytrack detach ${pid} retries)`, { pid });
}

/** Unregister from `fd` every region of `pid` this backend may have registered; errors are ignored (regions vanish). */
export function unregisterAll(fd: number, pid: number): void {
  const binding = requireNative('uffd-wp');
  let maps: MapsRegion[];
  try {
    maps = readMaps(pid);
  } catch {
    return;
  }
  for (const r of maps) {
    if (!mayBeRegistered(r)) continue;
    try {
      binding.uffdUnregister(fd, r.start, r.end - r.start);
    } catch {
      // not registered, or gone
    }
  }
}

/** UFFDIO_API with the tracker's features on a descriptor just created. */
export function handshake(binding: NativeBinding, fd: number, pid: number): void {
  let available: bigint | undefined;
  let failure: unknown;
  try {
    available = binding.uffdApi(fd, TRACKER_FEATURES);
  } catch (err) {
    failure = err;
  }
  if (available !== undefined && (available & TRACKER_FEATURES) === TRACKER_FEATURES) return;
  throw new DirtyTrackError(
    'ENOTSUP',
    `userfaultfd lacks UFFD_FEATURE_WP_ASYNC (Linux 6.7+) or UFFD_FEATURE_WP_UNPOPULATED (6.4+) on kernel ${kernelRelease()}${failure ? `: ${(failure as Error).message}` : ''}`,
    { pid, cause: failure },
  );
}

/**
 * `dirtytrack detach <pid>`: remove what uffd-wp left in `pid` (after release(), or a tracker killed
 * with SIGKILL): unregister and close every descriptor this tracker created there. One inherited
 * from a parent is left alone: it belongs to the parent's tracking. False when none.
 */
export function detachUffd(pid: number): boolean {
  requireNative('detach');
  const found = findTrackerUffds(pid);
  for (const u of found) {
    const fd = takeDescriptor(pid, u.fd);
    try {
      if (fstatSync(fd).ino !== u.ino) continue; // replaced meanwhile
      unregisterAll(fd, pid);
    } finally {
      closeSync(fd);
    }
    closeInTarget(pid, u.fd, u.ino);
  }
  return found.length > 0;
}
