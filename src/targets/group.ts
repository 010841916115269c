/**
 * A group of processes tracked together (several pids, --tree, --cgroup): one backend per member,
 * membership re-read whenever asked. A member found later is tracked from then on; one that exits
 * keeps what was measured up to its exit and is reported gone; one that cannot be tracked (kernel
 * thread, zombie, permission, a backend's refusal such as a seccomp filter) is listed as skipped with
 * the reason. Nothing about one member aborts the group.
 */
import { openBackend, type BackendChoice } from '../backends/select.js';
import { DirtyTrackError } from '../errors.js';
import { aggregate, type GroupTotal } from './aggregate.js';
import { isAlive, readStat, type ProcStat } from '../proc/process.js';
import { untrackable, type Member, type MembershipChange, type MemberSource, type Skipped } from './member.js';
import type { Backend, BackendName, ScanOptions, ScanResult } from '../types.js';

export interface GroupScan extends GroupTotal {
  /** One scan per member scanned, in member order. */
  scans: ScanResult[];
  /** Members that exited since the last look (before or during this scan). */
  gone: number[];
  scanMs: number;
}

export interface GroupOptions {
  backend?: BackendChoice;
  /** For tests: how a member's backend is opened and its /proc/PID/stat read. */
  open?: (pid: number, choice: BackendChoice) => Backend;
  stat?: (pid: number) => ProcStat | null;
  alive?: (pid: number) => boolean;
}

export class GroupTracker {
  private readonly byPid = new Map<number, Member>();
  private readonly all: Member[] = [];
  private round = 0;
  private readonly open: (pid: number, choice: BackendChoice) => Backend;
  private readonly stat: (pid: number) => ProcStat | null;
  private readonly alive: (pid: number) => boolean;

  constructor(readonly source: MemberSource, private readonly opts: GroupOptions = {}) {
    this.open = opts.open ?? openBackend;
    this.stat = opts.stat ?? readStat;
    this.alive = opts.alive ?? isAlive;
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
    const change: MembershipChange = { born: [], gone: [], skipped: [] };
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
        if (clear) m.backend.clear();
      } catch (err) {
        this.closeQuietly(m);
        if (!(err instanceof DirtyTrackError)) throw err;
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
    for (const m of this.tracked()) {
      const r = this.attempt(m, (b) => b.scan(opts), gone);
      if (r) scans.push(r);
    }
    return { ...aggregate(scans), scans, gone, scanMs: Number(process.hrtime.bigint() - t0) / 1e6 };
  }

  /**
   * Run `op` on a member's backend. After execve the backend's address space is gone (uffd-wp's
   * descriptor belonged to the old mm): tracking restarts in the new one and `op` runs again there,
   * so a scan reports everything the new program populated. Exited → gone (pushed to `gone`).
   */
  private attempt<T>(m: Member, op: (b: Backend) => T, gone: number[]): T | undefined {
    try {
      return op(m.backend!);
    } catch (err) {
      if (!this.noteFailure(m, err)) throw err;
    }
    if (m.state === 'tracked') {
      try {
        const again = op(m.backend!);
        m.execs = (m.execs ?? 0) + 1;
        return again;
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
  private noteFailure(m: Member, err: unknown, retry = true): boolean {
    if (!(err instanceof DirtyTrackError)) return false;
    const s = this.stat(m.pid);
    const alive = s !== null && s.startTime === m.startTime && this.untrackable(s) === null;
    if (!alive) {
      this.markGone(m, 'exited');
      return true;
    }
    this.closeQuietly(m);
    if (err.code === 'ESRCH' && retry) {
      try {
        m.backend = this.open(m.pid, this.opts.backend ?? 'auto');
        return true;
      } catch (again) {
        return this.noteFailure(m, again, false);
      }
    }
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
