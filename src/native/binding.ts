import { createRequire } from 'node:module';
import { getSystemErrorMap } from 'node:util';
import { codeForErrno, DirtyTrackError, errnoName } from '../errors.js';

/**
 * The native addon (src/native/*.c, built by node-gyp into build/Release/dirtytrack.node): the system
 * calls Node cannot make. It is optional, like ws's bufferutil: when it is missing, `native()` is null,
 * `nativeStatus()` says why, and the soft-dirty backend (pure TypeScript) still works.
 *
 * Every function is synchronous. Failed system calls throw Errors shaped like Node's system errors:
 * `.code` ('EPERM'), `.errno` (negative, as in Node), `.syscall` ('ioctl(PAGEMAP_SCAN)').
 */
export interface NativeBinding {
  /**
   * One PAGEMAP_SCAN ioctl (Linux 6.7+) on an open /proc/PID/pagemap. `out` receives `count`
   * (start, end, categories) triples; its length / 3 is the vector length. On failure the error also
   * carries `count` and `walkEnd`: regions the kernel had already written out (and, with
   * PM_SCAN_WP_MATCHING, already write-protected) before it failed.
   */
  pagemapScan(
    fd: number, start: bigint, end: bigint, flags: number,
    categoryMask: number, categoryInvertedMask: number, categoryAnyofMask: number, returnMask: number,
    maxPages: number, out: BigUint64Array,
  ): { count: number; walkEnd: bigint };
  /**
   * Every page of each range of `ranges` ([start, end) pairs, page-aligned, ascending) that
   * PAGEMAP_SCAN matches, with as many calls as it takes (src/native/pagemap-walk.c), as sorted,
   * merged page runs: range i's are runs[2 * bounds[i] .. 2 * bounds[i + 1]). `fdOrFake`: an open
   * /proc/PID/pagemap, or for tests a JS stand-in for the ioctl. A kernel failure does not throw:
   * errnos[i] is the errno that stopped range i (its runs hold what came before), -1 for a range
   * not walked because an earlier one failed with an errno other than EPERM; `stalledAt` where
   * walk_end stopped advancing.
   */
  pagemapScanWalk(
    fdOrFake: number | FakeScanIoctl, ranges: BigUint64Array, flags: number,
    categoryMask: number, categoryInvertedMask: number, categoryAnyofMask: number, returnMask: number,
    keepAnyOf: number, vecRegions: number,
  ): { runs: Float64Array; bounds: Uint32Array; pages: Float64Array; errnos: Int32Array; calls: number; overshoots: number; stalledAt?: bigint };
  /**
   * The soft-dirty pages of each [startPage, endPage) pair of `ranges` (ascending), every pagemap
   * entry read with pread (src/native/pagemap-read.c): a page counts when bit 55 is set and, unless
   * `includeUnpopulated`, bit 63 or 62. Range i's runs are runs[2 * bounds[i] .. 2 * bounds[i + 1]).
   * A failed or short pread stops the walk and is described in `failure` (errno 0: short read).
   */
  pagemapReadWalk(fd: number, ranges: Float64Array, includeUnpopulated: boolean): {
    runs: Float64Array; bounds: Uint32Array; pages: Float64Array;
    failure?: { range: number; page: number; errno: number; got: number; want: number };
  };
  /** Address of the first byte of a buffer's storage in this process (0n for an empty buffer). */
  bufferAddress(buffer: ArrayBuffer | ArrayBufferView): bigint;
  /** userfaultfd(2) in this process: for probes and for tracking this process itself. */
  userfaultfd(flags: number): number;
  /** UFFDIO_API handshake; returns the features the kernel reports available. */
  uffdApi(fd: number, features: bigint): bigint;
  /** UFFDIO_REGISTER; returns the ioctls available on the range. Acts on the descriptor's mm. */
  uffdRegister(fd: number, start: bigint, len: bigint, mode: number): bigint;
  uffdUnregister(fd: number, start: bigint, len: bigint): void;
  uffdWriteprotect(fd: number, start: bigint, len: bigint, wp: boolean): void;
  /** pidfd_open(2); flags 0, or PIDFD_THREAD (O_EXCL) for a thread id. */
  pidfdOpen(pid: number, flags: number): number;
  /** pidfd_getfd(2): a descriptor here for the target's open file `targetFd` (close-on-exec). */
  pidfdGetfd(pidfd: number, targetFd: number): number;
  /**
   * Make thread `pid` execute system call `nr` at `syscallAddr` (the address of an existing `syscall`
   * instruction in it) under ptrace, and restore it. Returns the raw result (-errno on failure).
   * Throws with `.stage` when the injection itself fails. x86-64 only. `expectFilters` (-1: no check):
   * the seccomp filters the caller checked; if the thread has another number, nothing is injected (ESTALE).
   */
  injectSyscall(pid: number, syscallAddr: bigint, nr: number, args: bigint[], timeoutMs: number, expectFilters: number): bigint;
  /**
   * The seccomp filters of thread `tid` (classic BPF, 8 bytes per instruction), newest first, read
   * with PTRACE_SECCOMP_GET_FILTER while the thread is briefly stopped (needs CAP_SYS_ADMIN).
   */
  seccompFilters(tid: number, timeoutMs: number): Buffer[];
}

/** A test stand-in for one PAGEMAP_SCAN call: fills `out` with (start, end, categories) triples. Fails by throwing an Error with a negative `errno`, `count` and `walkEnd`. */
export type FakeScanIoctl = (start: bigint, end: bigint, out: BigUint64Array) => { count: number; walkEnd: bigint };

/** An Error thrown by the binding. */
export interface NativeError extends Error {
  code: string;
  errno: number;
  syscall: string;
  /** pagemapScan only: regions written to `out` before the failure. */
  count?: number;
  walkEnd?: bigint;
  /** injectSyscall only: how far the injection got, in words. */
  stage?: string;
}

let systemErrors: Map<number, [string, string]> | undefined; // built anew by every getSystemErrorMap() call

/** The Error the addon would have thrown for `errno` (positive) in `syscall`. */
export function errnoError(errno: number, syscall: string): NativeError {
  const [code, text] = (systemErrors ??= getSystemErrorMap()).get(-errno) ?? [`E${errno}`, 'unknown error'];
  return Object.assign(new Error(`${syscall}: ${text} (${code})`), { code, errno: -errno, syscall });
}

export function isNativeError(err: unknown): err is NativeError {
  return err instanceof Error && typeof (err as NativeError).code === 'string' && typeof (err as NativeError).errno === 'number';
}

const ADDON_PATH = '../../build/Release/dirtytrack.node'; // the same from src/native/ (tsx) and dist/native/ (tsc)

let loaded: { binding: NativeBinding | null; reason?: string } | undefined;

/** Loads the addon on first use, not at import: a command that never needs it never pays for it. */
function load(): { binding: NativeBinding | null; reason?: string } {
  if (loaded) return loaded;
  if (process.env.DIRTYTRACK_NO_NATIVE) return (loaded = { binding: null, reason: 'disabled by DIRTYTRACK_NO_NATIVE' });
  if (process.platform !== 'linux') return (loaded = { binding: null, reason: `${process.platform} is not Linux` });
  try {
    return (loaded = { binding: createRequire(import.meta.url)(ADDON_PATH) as NativeBinding });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason = e?.code === 'MODULE_NOT_FOUND' ? 'build/Release/dirtytrack.node not built' : `cannot load build/Release/dirtytrack.node: ${e?.message ?? String(err)}`;
    return (loaded = { binding: null, reason });
  }
}

/** The addon, or null when it is not built or cannot load. */
export function native(): NativeBinding | null {
  return load().binding;
}

export function nativeStatus(): { loaded: boolean; reason?: string } {
  const { binding, reason } = load();
  return binding ? { loaded: true } : { loaded: false, reason };
}

/** The addon, or a capability error naming what needs it and how to build it. */
export function requireNative(what: string): NativeBinding {
  const { binding, reason } = load();
  if (binding) return binding;
  throw new DirtyTrackError('ENOTSUP', `${what} needs the native addon, which is not loaded (${reason}): run npm run build:native`);
}

/** Convert an error from the binding into a DirtyTrackError keeping code, errno and syscall. */
export function nativeFailure(err: unknown, message: string, pid?: number): DirtyTrackError {
  if (err instanceof DirtyTrackError) return err;
  if (!isNativeError(err)) return new DirtyTrackError('EIO', `${message}: ${String(err)}`, { pid, cause: err });
  return new DirtyTrackError(codeForErrno(err.code), `${message}: ${err.message}`, { pid, syscall: err.syscall, errno: err.errno, cause: err });
}

/** errno name of a raw negative syscall result, e.g. -9n → 'EBADF'. */
export function resultErrno(result: bigint): string {
  return errnoName(Number(result));
}
