import { getSystemErrorName } from 'node:util';

/** Error codes the CLI maps to exit codes. System errno names (ESRCH, EACCES, …) are used as-is. */
export type DirtyTrackCode =
  | 'EUSAGE'        // bad command-line input
  | 'ESRCH'         // no such process (or it exited mid-operation)
  | 'EACCES'        // permission denied (pagemap, clear_refs, ptrace)
  | 'EPERM'
  | 'ENOSOFTDIRTY'  // kernel built without CONFIG_MEM_SOFT_DIRTY (probe failed)
  | 'ENOTSUP'       // another kernel capability is missing (PAGEMAP_SCAN, uffd-wp, native addon)
  | 'EBUSY'         // target already traced
  | 'EIO'
  | string;

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

/**
 * Wrap a Node system error (from fs on /proc/PID/…) into a DirtyTrackError with a one-line message.
 * ENOENT and ESRCH on /proc/PID both mean the process is gone.
 */
export function fromSystemError(err: unknown, what: string, pid?: number, path?: string): DirtyTrackError {
  if (err instanceof DirtyTrackError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? 'EIO';
  const syscall = e?.syscall;
  if (code === 'ENOENT' || code === 'ESRCH') {
    return new DirtyTrackError('ESRCH', `no such process: ${pid ?? '?'} (${what})`, { pid, path, syscall, cause: err });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    // `what` usually names the path already ("cannot open /proc/1/pagemap"): add it only when it does not.
    const where = path && !what.includes(path) ? ` (${path})` : '';
    return new DirtyTrackError(code, `permission denied: ${what}${where}; run as root or with CAP_SYS_ADMIN/CAP_SYS_PTRACE`, { pid, path, syscall, cause: err });
  }
  return new DirtyTrackError(code, `${what}: ${e?.message ?? String(err)}`, { pid, path, syscall, cause: err });
}

/** CLI exit codes (documented in README.md). */
export const EXIT = {
  ok: 0,
  failure: 1,      // unexpected error: stack trace printed
  usage: 2,
  noProcess: 3,
  permission: 4,
  capability: 5,
  interrupted: 130,
} as const;

export function exitCodeFor(err: unknown): number {
  if (!(err instanceof DirtyTrackError)) return EXIT.failure;
  switch (err.code) {
    case 'EUSAGE': return EXIT.usage;
    case 'ESRCH': return EXIT.noProcess;
    case 'EACCES':
    case 'EPERM': return EXIT.permission;
    case 'ENOSOFTDIRTY':
    case 'ENOTSUP':
    case 'EBUSY': return EXIT.capability;
    default: return EXIT.failure;
  }
}
