import { getSystemErrorName } from 'node:util';

/** CLI exit codes (documented in README.md and the usage text). */
export const EXIT = {
  ok: 0,
  failure: 1,      // unexpected error: the only code that prints a stack trace
  usage: 2,
  noProcess: 3,
  permission: 4,
  capability: 5,
  busy: 6,         // another tracker holds the process
  output: 7,       // results could not be written (full disk, I/O error on --out or stdout)
  armed: 8,        // serve: some target could not be closed and may stay armed (named, with `dirtytrack detach`)
} as const;

/** 128 + signal number, as shells report a process ended by that signal (SIGPIPE: stdout closed). */
export const SIGNAL_EXIT = { SIGHUP: 129, SIGINT: 130, SIGPIPE: 141, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof SIGNAL_EXIT;

/**
 * Every code a DirtyTrackError can carry, with its exit code: a closed set, so a new code must say
 * how the CLI reports it. System errno names not listed here become ESYSTEM (see codeForErrno).
 */
const EXIT_BY_CODE = {
  EUSAGE: EXIT.usage,             // bad command-line input
  EINVAL: EXIT.failure,           // bad argument to a library function (the CLI validates first)
  ESRCH: EXIT.noProcess,          // no such process, or it exited mid-operation
  EACCES: EXIT.permission,        // permission denied (pagemap, clear_refs, ptrace)
  EPERM: EXIT.permission,
  ENOSOFTDIRTY: EXIT.capability,  // kernel without CONFIG_MEM_SOFT_DIRTY (live probe failed)
  ENOTSUP: EXIT.capability,       // another capability missing (PAGEMAP_SCAN, uffd-wp, native addon)
  EBUSY: EXIT.capability,         // target already traced (ptrace allows one tracer)
  ELOCKED: EXIT.busy,             // another dirtytrack tracks the process
  ETIMEDOUT: EXIT.failure,        // the target's threads did not stop in time
  EBADF: EXIT.failure,            // a backend used after close()
  EIO: EXIT.failure,              // the kernel answered something unexpected (short read, unparsable maps)
  ESYSTEM: EXIT.failure,          // any other failed system call; errno and syscall say which
} as const satisfies Record<string, number>;

export type DirtyTrackCode = keyof typeof EXIT_BY_CODE;

export interface DirtyTrackErrorOptions {
  pid?: number;
  path?: string;
  syscall?: string;
  cause?: unknown;
  errno?: number;
}

/** The one error class of dirtytrack, shaped like Node's own system errors. */
export class DirtyTrackError extends Error {
  readonly code: DirtyTrackCode;
  readonly pid?: number;
  readonly path?: string;
  readonly syscall?: string;
  readonly errno?: number;

  constructor(code: DirtyTrackCode, message: string, opts: DirtyTrackErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DirtyTrackError';
    this.code = code;
    this.pid = opts.pid;
    this.path = opts.path;
    this.syscall = opts.syscall;
    this.errno = opts.errno;
  }
}

/** Name for a negative errno returned by native code, e.g. -3 → 'ESRCH'. */
export function errnoName(negErrno: number): string {
  try {
    return getSystemErrorName(negErrno < 0 ? negErrno : -negErrno);
  } catch {
    return `E${Math.abs(negErrno)}`;
  }
}

/** The DirtyTrackCode for a system errno name: those with a meaning of their own here, the rest ESYSTEM. */
export function codeForErrno(name: string): DirtyTrackCode {
  switch (name) {
    case 'ESRCH':
    case 'EACCES':
    case 'EPERM':
    case 'ETIMEDOUT':
    case 'EIO': return name;
    case 'ENOSYS':
    case 'ENOTTY':
    case 'EOPNOTSUPP': return 'ENOTSUP';
    default: return 'ESYSTEM';
  }
}

/** The process is gone (or never was): `what` says what found out. */
export function noSuchProcess(pid: number | undefined, what: string, opts: Omit<DirtyTrackErrorOptions, 'pid'> = {}): DirtyTrackError {
  return new DirtyTrackError('ESRCH', `no such process: ${pid ?? '?'} (${what})`, { ...opts, pid });
}

/** Permission denied doing `what`; `hint` says which right is missing. */
export function permissionDenied(code: 'EACCES' | 'EPERM', what: string, hint: string, opts: DirtyTrackErrorOptions = {}): DirtyTrackError {
  return new DirtyTrackError(code, `permission denied: ${what}; ${hint}`, opts);
}

/** A library function called with an argument it cannot use. */
export function invalidArgument(message: string): DirtyTrackError {
  return new DirtyTrackError('EINVAL', message);
}

/**
 * Wrap a Node system error (from fs on /proc/PID/…) into a DirtyTrackError with a one-line message.
 * ENOENT and ESRCH on /proc/PID both mean the process is gone.
 */
export function fromSystemError(err: unknown, what: string, pid?: number, path?: string): DirtyTrackError {
  if (err instanceof DirtyTrackError) return err;
  const e = err as NodeJS.ErrnoException;
  const name = e?.code ?? 'EIO';
  const syscall = e?.syscall;
  const code = name === 'ENOENT' ? 'ESRCH' : codeForErrno(name);
  if (code === 'ESRCH') return noSuchProcess(pid, what, { path, syscall, cause: err });
  if (code === 'EACCES' || code === 'EPERM') {
    // `what` usually names the path already ("cannot open /proc/1/pagemap"): add it only when it does not.
    const where = path && !what.includes(path) ? ` (${path})` : '';
    return permissionDenied(code, what + where, 'run as root or with CAP_SYS_ADMIN/CAP_SYS_PTRACE', { pid, path, syscall, cause: err });
  }
  return new DirtyTrackError(code, `${what}: ${e?.message ?? String(err)}`, { pid, path, syscall, errno: e?.errno, cause: err });
}

export function exitCodeFor(err: unknown): number {
  return err instanceof DirtyTrackError ? EXIT_BY_CODE[err.code] ?? EXIT.failure : EXIT.failure;
}
