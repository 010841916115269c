import { closeSync, openSync, readSync } from 'node:fs';
import { codeForErrno, DirtyTrackError, errnoName, fromSystemError, invalidArgument, noSuchProcess } from '../../errors.js';
import { readMaps } from '../../proc/maps.js';
import { elfClass, liveThread, memDir, tracerOf } from '../../proc/process.js';
import { requireInjectable } from '../../proc/seccomp.js';
import { isNativeError, requireNative } from '../../native/binding.js';

/**
 * Make another process execute one system call, under ptrace (the C side, src/native/inject.c, says
 * how). Used to create a userfaultfd inside the target and to close it again.
 */

/** x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
export const SYS = { close: 3, userfaultfd: 323 } as const;

export interface InjectOptions {
  /** Give up (and leave the target as it was) when it has not stopped within this time. */
  timeoutMs?: number;
  /** Accept a seccomp filter that answers the call with SECCOMP_RET_ERRNO (the call then fails; default true). */
  errnoOk?: boolean;
  /** Only check that the call may be injected (throws like a real injection); inject nothing and return 0. */
  checkOnly?: boolean;
}

/** Names for refusals and messages. */
const CALL_NAMES: Record<number, string> = { [SYS.close]: 'close', [SYS.userfaultfd]: 'userfaultfd' };

/**
 * Address of the bytes 0f 05 (`syscall`) in an executable mapping of `pid`: the [vdso] first (always
 * there, tiny, and its clock_gettime fallback holds one), then any other executable mapping. Jumping
 * to existing bytes means nothing in the target is ever written, so other threads executing the same
 * code are never at risk. Any 0f 05 pair works, instruction boundary or not: the CPU decodes from rip.
 */
export function findSyscallInstruction(pid: number): bigint {
  const maps = readMaps(pid).filter((r) => r.perms[2] === 'x' && r.path !== '[vsyscall]');
  maps.sort((a, b) => Number(b.path === '[vdso]') - Number(a.path === '[vdso]'));
  const path = `${memDir(pid)}/mem`;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw fromSystemError(err, `cannot open ${path}`, pid, path);
  }
  try {
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (const r of maps) {
      const limit = r.end - r.start < 1n << 20n ? r.end : r.start + (1n << 20n); // first MiB is plenty
      for (let at = r.start; at < limit; at += BigInt(buf.length - 1)) {
        let n: number;
        try {
          n = readSync(fd, buf, 0, Math.min(buf.length, Number(limit - at)), at);
        } catch {
          break; // unreadable mapping: try the next
        }
        for (let i = buf.indexOf(0x0f); i >= 0 && i < n - 1; i = buf.indexOf(0x0f, i + 1)) {
          if (buf[i + 1] === 0x05) return at + BigInt(i);
        }
        if (n < buf.length) break;
      }
    }
  } finally {
    closeSync(fd);
  }
  throw new DirtyTrackError('ENOTSUP', `no syscall instruction found in the executable mappings of ${pid}`, { pid });
}

/**
 * Execute system call `nr` with `args` in `pid` and return its raw result (negative errno on failure).
 * Throws DirtyTrackError when the injection itself is impossible: EBUSY (already traced), EPERM /
 * EACCES (not permitted), ESRCH (gone), ETIMEDOUT (did not stop in time: left untouched).
 */
export function injectSyscall(pid: number, nr: number, args: bigint[] = [], opts: InjectOptions = {}): bigint {
  const binding = requireNative('ptrace system-call injection');
  if (!Number.isSafeInteger(pid) || pid <= 0) throw invalidArgument(`bad pid ${pid}`);
  if (pid === process.pid) throw new DirtyTrackError('EPERM', 'cannot inject a system call into the tracker itself', { pid });
  if (args.length > 6) throw invalidArgument('at most 6 system-call arguments');
  if (elfClass(pid) === 32) throw new DirtyTrackError('ENOTSUP', `${pid} is a 32-bit program: injection (the uffd-wp backend) supports x86-64 programs only; use soft-dirty on a kernel with CONFIG_MEM_SOFT_DIRTY`, { pid });
  const tracer = tracerOf(pid);
  if (tracer !== 0) throw alreadyTraced(pid, tracer);
  const tid = liveThread(pid);
  if (tid === undefined) throw noSuchProcess(pid, 'no live thread');
  const at = findSyscallInstruction(pid);
  const full = [...args, 0n, 0n, 0n, 0n, 0n, 0n].slice(0, 6).map((a) => BigInt.asUintN(64, a));
  // Seccomp first: a filter may kill or signal the target for this very call.
  const verdict = requireInjectable(pid, tid, { name: CALL_NAMES[nr] ?? `system call ${nr}`, nr, args: full }, at, opts.errnoOk ?? true);
  if (opts.checkOnly) return 0n;
  try {
    return binding.injectSyscall(tid, at, nr, full, opts.timeoutMs ?? 5000, verdict.mode === 2 ? verdict.filters : 0);
  } catch (err) {
    if (!isNativeError(err)) throw err;
    const stage = err.stage ? ` [${err.stage}]` : '';
    if (err.code === 'EPERM' || err.code === 'EACCES') {
      const now = tracerOf(pid);
      if (now !== 0 && now !== process.pid) throw alreadyTraced(pid, now);
      throw new DirtyTrackError(
        err.code,
        `not permitted to ptrace ${pid} (${err.syscall}): run as root or with CAP_SYS_PTRACE, as the same user, ` +
          'and check /proc/sys/kernel/yama/ptrace_scope (1 allows tracing descendants only)',
        { pid, syscall: err.syscall, errno: err.errno, cause: err },
      );
    }
    if (err.code === 'ESRCH') throw noSuchProcess(pid, err.syscall, { syscall: err.syscall, errno: err.errno, cause: err });
    if (err.code === 'ENOEXEC') throw new DirtyTrackError('ENOTSUP', `${pid} runs 32-bit code: injection (the uffd-wp backend) supports x86-64 only`, { pid, cause: err });
    if (err.code === 'ESTALE') throw new DirtyTrackError('EIO', `${pid} installed a seccomp filter while dirtytrack checked them: nothing was injected; try again`, { pid, cause: err });
    throw new DirtyTrackError(codeForErrno(err.code), `cannot inject a system call into ${pid}: ${err.message}${stage}`, { pid, syscall: err.syscall, errno: err.errno, cause: err });
  }
}

function alreadyTraced(pid: number, tracer: number): DirtyTrackError {
  return new DirtyTrackError('EBUSY', `${pid} is already traced by pid ${tracer} (a debugger, strace or another tracer); ptrace allows one tracer at a time`, { pid });
}

/** A raw result as a description, e.g. -1n → 'EPERM'. */
export function describeResult(result: bigint): string {
  return result < 0n && result > -4096n ? errnoName(Number(result)) : String(result);
}
