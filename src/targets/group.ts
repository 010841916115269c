/**
 * A group of processes tracked together (several pids, --tree, --cgroup): one backend per member,
 * membership re-read whenever asked. A member found later is tracked from then on; one that exits
 * keeps what was measured up to its exit and is reported gone; one that cannot be tracked (kernel
 * thread, zombie, permission, a backend's refusal such as a seccomp filter) is listed as skipped with
 * the reason. Nothing about one member aborts the group.
 */
import { openBackend, type BackendChoice } from '../backends/select.js';
import { DirtyTrackError, fromSystemError } from '../errors.js';
import { isNativeError, nativeFailure } from '../native/binding.js';
import { aggregate, type GroupTotal } from './aggregate.js';
import { isAlive, readStat, type ProcStat } from '../proc/process.js';
import { ProcessImage } from '../proc/image.js';
import { untrackable, type Member, type MemberImage, type MembershipChange, type MemberSource, type Skipped } from './member.js';
import type { Backend, BackendName, ScanOptions, ScanResult } from '../types.js';

export interface GroupScan extends GroupTotal {
  /** One scan per member scanned, in member order. */
  scans: ScanResult[];
  /** Members that exited since the last look (before or during this scan). */
  gone: number[];
  /** Members that called execve since the last scan: tracked afresh in the new image. */
  execed: number[];
  scanMs: number;
}

export interface GroupOptions {
  backend?: BackendChoice;
  /** For tests: how a member's backend is opened and its /proc/PID/stat read. */
  open?: (pid: number, choice: BackendChoice) => Backend;
  stat?: (pid: number) => ProcStat | null;
  alive?: (pid: number) => boolean;
  image?: (pid: number) => MemberImage;
}

/**
 * A member's failure as a DirtyTrackError: failed system calls (native, or fs on /proc) are what a
 * process that exits or execs under us produces; null for anything else (a bug, rethrown).
 */
function asTrackError(err: unknown, pid: number): DirtyTrackError | null {
  if (err instanceof DirtyTrackError) return err;
  if (isNativeError(err)) return nativeFailure(err, `process ${pid}`, pid);
  const e = err as NodeJS.ErrnoException;
  if (err instanceof Error && typeof e.code === 'string' && typeof e.syscall === 'string') return fromSystemError(err, `process ${pid}`, pid, e.path);
  return null;
}

export class GroupTracker {
  private readonly byPid = new Map<number, Member>();
  private readonly all: Member[] = [];
  private round = 0;
  /** Members restarted after an exec, not yet reported by a scan. */
  private readonly execs: number[] = [];
  private readonly open: (pid: number, choice: BackendChoice) => Backend;
  private readonly stat: (pid: number) => ProcStat | null;
  private readonly alive: (pid: number) => boolean;
  private readonly image: (pid: number) => MemberImage;

  constructor(readonly source: MemberSource, private readonly opts: GroupOptions = {}) {
    this.open = opts.open ?? openBackend;
    this.stat = opts.stat ?? readStat;
    this.alive = opts.alive ?? isAlive;
    this.image = opts.image ?? ((pid) => new ProcessImage(pid));
  }

  private untrackable(s: ProcStat): string | null {
    return untrackable(s, this.alive);
  }

  /** Every member ever seen, in the order found. */
  members(): readonly Member[] {
    return this.all;
  }

  tracked(): Member[] {
    return this.all.filter((m) => m.state === 'tracked');
  }

  skipped(): Skipped[] {
    return this.all.filter((m) => m.state === 'skipped').map((m) => ({ pid: m.pid, reason: m.reason! }));
  }

  /** The backend the tracked members use (undefined before any is open). */
  backendName(): BackendName | undefined {
    return this.tracked()[0]?.backend?.name;
  }

  /**
   * Re-read the membership: open a backend for each new member (cleared when `clear`, so it counts
   * from now on), mark members no longer listed, or exited, gone.
   */
  refresh(clear: boolean): MembershipChange {
    const change: MembershipChange = { born: [], gone: [], exec: [], skipped: [] };
    const listed = new Set(this.source.pids());
    for (const m of this.tracked()) {
      const s = this.stat(m.pid);
      if (!s || s.startTime !== m.startTime || this.untrackable(s) !== null || !listed.has(m.pid)) {
        this.markGone(m, listed.has(m.pid) || !s || s.startTime !== m.startTime ? 'exited' : 'left the group');
        change.gone.push(m.pid);
      }
    }
    for (const pid of listed) {
      const s = this.stat(pid);
      if (!s) {
        // a pid named but not there (mistyped, or exited); in a tree or cgroup, one that came and went between two looks
        if (this.round === 0 && this.source.fixed) {
          this.skip(pid, 'no such process');
          change.skipped.push({ pid, reason: 'no such process' });
        }
        continue;
      }
      const known = this.byPid.get(pid);
      if (known && (this.source.fixed || (known.startTime === s.startTime && known.state !== 'gone'))) continue;
      const m = this.admit(s, clear);
      if (!m) continue;
      if (m.state === 'tracked') change.born.push(pid);
      else change.skipped.push({ pid, reason: m.reason! });
    }
    this.round++;
    return change;
  }

  private skip(pid: number, reason: string): void {
    const m: Member = { pid, comm: '', startTime: -1, state: 'skipped', reason, code: 'ESRCH', since: this.round };
    this.byPid.set(pid, m);
    this.all.push(m);
  }

  private admit(s: ProcStat, clear: boolean): Member | null {
    const m: Member = { pid: s.pid, comm: s.comm, startTime: s.startTime, state: 'tracked', since: this.round };
    const why = this.untrackable(s);
    if (why) {
      m.state = 'skipped';
      m.reason = why;
    } else {
      try {
        m.backend = this.open(s.pid, this.opts.backend ?? 'auto');
        m.image = this.image(s.pid);
        if (clear) m.backend.clear();
      } catch (thrown) {
        this.closeQuietly(m);
        const err = asTrackError(thrown, s.pid);
        if (!err) throw thrown;
        const now = this.stat(s.pid);
        if (!now || now.startTime !== s.startTime) return null; // exited while being opened
        m.state = 'skipped';
        m.reason = err.message;
        m.code = err.code;
      }
    }
    this.byPid.set(m.pid, m);
    this.all.push(m);
    return m;
  }

  /** Reset every tracked member; returns those that exited meanwhile (marked gone). */
  clear(): number[] {
    const gone: number[] = [];
    for (const m of this.tracked()) this.attempt(m, (b) => b.clear(), gone);
    return gone;
  }

  /** Scan every tracked member and aggregate. A member that exits before or during its scan is marked gone. */
  scan(opts: ScanOptions = {}): GroupScan {
    const t0 = process.hrtime.bigint();
    const scans: ScanResult[] = [];
    const gone: number[] = [];
    const execs = this.execs.length;
    for (const m of this.tracked()) {
      // Its image replaced since the last look: tracked afresh, so this scan reports what the new program populated.
      if (m.image?.state() === 'exec' && !this.restart(m)) {
        if (m.state === 'gone') gone.push(m.pid);
        continue;
      }
      const r = this.attempt(m, (b) => b.scan(opts), gone);
      if (r) scans.push(r);
    }
    const execed = this.execs.splice(execs);
    return { ...aggregate(scans), scans, gone, execed, scanMs: Number(process.hrtime.bigint() - t0) / 1e6 };
  }

  /** A fresh backend and image for a member that exec'd; false (and the member gone or skipped) when it cannot be had. */
  private restart(m: Member): boolean {
    this.closeQuietly(m);
    try {
      m.backend = this.open(m.pid, this.opts.backend ?? 'auto');
      m.image = this.image(m.pid);
    } catch (err) {
      if (!this.noteFailure(m, err, false)) throw err;
      return false;
    }
    m.execs = (m.execs ?? 0) + 1;
    this.execs.push(m.pid);
    return true;
  }

  /**
   * Run `op` on a member's backend. An execve between the image check and `op` shows as ESRCH from a
   * live process (uffd-wp's descriptor belonged to the old mm): tracking restarts in the new image and
   * `op` runs again there. Exited → gone (pushed to `gone`).
   */
  private attempt<T>(m: Member, op: (b: Backend) => T, gone: number[]): T | undefined {
    try {
      return op(m.backend!);
    } catch (err) {
      if (!this.noteFailure(m, err)) throw err;
    }
    if (m.state === 'tracked') {
      try {
        return op(m.backend!);
      } catch (err) {
        if (!this.noteFailure(m, err, false)) throw err;
      }
    }
    if (m.state === 'gone') gone.push(m.pid);
    return undefined;
  }

  /**
   * A member's backend failed. Exited → gone. ESRCH from a process still alive → it called execve:
   * a fresh backend (the member stays tracked, when `retry`). Any other DirtyTrackError (it changed
   * under us, e.g. a new seccomp filter) → skipped with the reason. False for an unexpected error
   * (a bug: the caller rethrows it).
   */
  private noteFailure(m: Member, thrown: unknown, retry = true): boolean {
    const err = asTrackError(thrown, m.pid);
    if (!err) return false;
    const s = this.stat(m.pid);
    const alive = s !== null && s.startTime === m.startTime && this.untrackable(s) === null;
    if (!alive) {
      this.markGone(m, 'exited');
      return true;
    }
    if (err.code === 'ESRCH' && retry) {
      this.restart(m);
      return true;
    }
    this.closeQuietly(m);
    m.state = 'skipped';
    m.reason = err.message;
    m.code = err.code;
    return true;
  }

  private markGone(m: Member, reason: string): void {
    this.closeQuietly(m);
    m.state = 'gone';
    m.reason = reason;
    m.goneAt = this.round;
  }

  private closeQuietly(m: Member): void {
    m.image?.close();
    m.image = undefined;
    try {
      m.backend?.close();
    } catch {
      // the process is gone or changed: nothing of ours is left in it
    }
    m.backend = undefined;
  }

  /** Stop tracking every member (uffd-wp: unregister and close inside each). */
  close(): void {
    for (const m of this.all) this.closeQuietly(m);
  }

  /** Let go of every member's handles, tracking left armed for a later command (scan after clear). */
  release(): void {
    for (const m of this.all) {
      try {
        m.backend?.release();
      } catch {
        // gone
      }
      m.backend = undefined;
    }
  }
}

/**
 * A group tracker with every current member opened (cleared first when `clear`). Fails only when no
 * member at all can be tracked: an empty group, or every member skipped (with the first one's code).
 */
export function openGroup(source: MemberSource, backend: BackendChoice = 'auto', clear = false): GroupTracker {
  const group = new GroupTracker(source, { backend });
  const { skipped } = group.refresh(clear);
  if (group.tracked().length > 0) return group;
  if (skipped.length === 0) throw new DirtyTrackError('ESRCH', `no process in ${source.label}`);
  const reasons = skipped.map((s) => `${s.pid}: ${s.reason}`).join('; ');
  const code = group.members().find((m) => m.code !== undefined)?.code ?? 'ESRCH';
  throw new DirtyTrackError(code, `no process of ${source.label} can be tracked (${reasons})`);
}
