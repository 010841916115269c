import { DirtyTrackError, noSuchProcess } from '../errors.js';
import { isNativeError, requireNative } from '../native/binding.js';
import { seccompOf } from './process.js';
import { AUDIT_ARCH_X86_64, evaluateFilters, type SeccompAction } from './seccomp-bpf.js';

/** A system call dirtytrack would make the target execute. */
export interface InjectedCall {
  name: string;
  nr: number;
  args: bigint[];
}

/** What the target's seccomp state means for one injected call. */
export interface SeccompVerdict {
  mode: 0 | 1 | 2;
  /** Filters of the thread, as read and evaluated (0 outside filter mode). */
  filters: number;
  action: SeccompAction;
  /** The errno of an ERRNO action. */
  errno?: number;
}

/** What each action would do to the target, for refusals. */
const CONSEQUENCE: Record<SeccompAction, string> = {
  KILL_PROCESS: 'the process would be killed',
  KILL_THREAD: 'the thread would be killed',
  TRAP: 'the thread would get SIGSYS',
  TRACE: 'its tracer would be asked to handle the call (without one, the call fails)',
  USER_NOTIF: 'a supervisor process would be asked to handle the call',
  LOG: 'the call would be logged as an exception of the sandbox',
  ERRNO: 'the call would fail with an error',
  ALLOW: 'the call runs',
  UNKNOWN: 'an action this version of dirtytrack does not know',
};

/** What to do instead, for every refusal. */
const INSTEAD = 'track it with a backend that injects nothing (soft-dirty or pagemap-scan, on a kernel built with CONFIG_MEM_SOFT_DIRTY), or run the target without this seccomp filter';

function refuse(pid: number, message: string, cause?: unknown): DirtyTrackError {
  return new DirtyTrackError('ENOTSUP', `${message}; dirtytrack does not inject into it: ${INSTEAD}`, { pid, cause });
}

/**
 * What seccomp would do if thread `tid` of `pid` executed `call` from the `syscall` instruction at
 * `syscallAt`. Filter mode needs the filters themselves (PTRACE_SECCOMP_GET_FILTER: CAP_SYS_ADMIN);
 * without them nothing is known and the caller must refuse.
 */
export function seccompVerdict(pid: number, tid: number, call: InjectedCall, syscallAt: bigint, readFilters: FilterReader = defaultReader): SeccompVerdict {
  const { mode } = seccompOf(pid, tid);
  if (mode === 0) return { mode, filters: 0, action: 'ALLOW' };
  if (mode === 1) return { mode, filters: 0, action: 'KILL_THREAD' }; // strict: only read, write, _exit, sigreturn
  let progs: Uint8Array[];
  try {
    progs = readFilters(tid);
  } catch (err) {
    throw unreadable(pid, err);
  }
  let r: ReturnType<typeof evaluateFilters>;
  try {
    r = evaluateFilters(progs, { nr: call.nr, arch: AUDIT_ARCH_X86_64, ip: syscallAt + 2n, args: [...call.args, 0n, 0n, 0n, 0n, 0n, 0n].slice(0, 6) });
  } catch (err) {
    throw refuse(pid, `${pid} runs under a seccomp filter dirtytrack cannot evaluate (${(err as Error).message})`, err);
  }
  return { mode, filters: progs.length, action: r.action, errno: r.action === 'ERRNO' ? r.data : undefined };
}

/** The filters of thread `tid`, newest first (a stand-in can be passed for tests). */
export type FilterReader = (tid: number) => Uint8Array[];

const defaultReader: FilterReader = (tid) => requireNative('reading seccomp filters').seccompFilters(tid, 5000);

function unreadable(pid: number, err: unknown): DirtyTrackError {
  const code = isNativeError(err) ? err.code : '';
  if (code === 'ESRCH') return noSuchProcess(pid, 'reading its seccomp filters', { cause: err });
  const why = code === 'EACCES' || code === 'EPERM' ? 'reading them needs CAP_SYS_ADMIN'
    : code === 'EINVAL' || code === 'EMEDIUMTYPE' ? 'this kernel does not hand them out: CONFIG_CHECKPOINT_RESTORE'
    : err instanceof Error ? err.message : String(err);
  return refuse(pid, `${pid} runs under seccomp filters that cannot be read (${why}), so what they would do with an injected call is unknown`, err);
}

/**
 * Throw unless `call` may be injected: every filter returns ALLOW, or (when `errnoOk`) ERRNO, which
 * only makes the call fail. Returns the verdict, whose `filters` the injection re-checks.
 */
export function requireInjectable(pid: number, tid: number, call: InjectedCall, syscallAt: bigint, errnoOk: boolean, readFilters: FilterReader = defaultReader): SeccompVerdict {
  const v = seccompVerdict(pid, tid, call, syscallAt, readFilters);
  if (v.action === 'ALLOW' || (errnoOk && v.action === 'ERRNO')) return v;
  if (v.mode === 1) throw refuse(pid, `${pid} runs in seccomp strict mode (only read, write, _exit and sigreturn): ${call.name}() would kill it`);
  throw refuse(pid, `${pid} runs under a seccomp filter that answers ${call.name}() with SECCOMP_RET_${v.action}: ${CONSEQUENCE[v.action]}`);
}

/** For doctor: the seccomp state of `pid` and what it means for each backend. */
export interface SeccompReport {
  mode: 0 | 1 | 2;
  filters?: number;
  /** What the filters do with the userfaultfd() uffd-wp injects (mode 2), or why that is unknown. */
  userfaultfd?: SeccompAction | 'unreadable';
  /** Per backend, in words. */
  meaning: { softDirty: string; pagemapScan: string; uffdWp: string };
}

export function seccompReport(pid: number, tid = pid, readFilters: FilterReader = defaultReader): SeccompReport {
  const { mode, filters } = seccompOf(pid, tid);
  const untouched = mode === 0 ? 'no seccomp filter' : 'not affected: nothing is injected into the process';
  const meaning = (uffdWp: string) => ({ softDirty: untouched, pagemapScan: untouched, uffdWp });
  if (mode === 0) return { mode, filters, meaning: meaning('no seccomp filter: userfaultfd() can be injected') };
  if (mode === 1) return { mode, filters, meaning: meaning('refused: seccomp strict mode allows no injected call') };
  const call = { name: 'userfaultfd', nr: 323, args: [0o2004000n] };
  let v: SeccompVerdict;
  try {
    v = seccompVerdict(pid, tid, call, 0n, readFilters);
  } catch (err) {
    const why = err instanceof DirtyTrackError ? err.message.replace(/;.*$/, '') : String(err);
    return { mode, filters, userfaultfd: 'unreadable', meaning: meaning(`refused: ${why}`) };
  }
  const uffdWp = v.action === 'ALLOW' ? `works: the ${v.filters} filters allow userfaultfd()`
    : v.action === 'ERRNO' ? `fails: the filters answer userfaultfd() with an error (errno ${v.errno}); the process is not harmed`
    : `refused: the filters answer userfaultfd() with SECCOMP_RET_${v.action} (${CONSEQUENCE[v.action]})`;
  return { mode, filters, userfaultfd: v.action, meaning: meaning(uffdWp) };
}
