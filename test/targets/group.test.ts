// GroupTracker membership and churn against a fake /proc and fake backends: born, gone, skipped, exec, reuse.
import { describe, expect, it } from 'vitest';
import { DirtyTrackError } from '../../src/errors.js';
import { GroupTracker } from '../../src/targets/group.js';
import { pidList, type MemberSource } from '../../src/targets/member.js';
import { PF_KTHREAD, type ProcStat } from '../../src/proc/process.js';
import { makeScanResult } from '../../src/scan-result.js';
import type { Backend } from '../../src/types.js';

/** A fake system: processes by pid, each backend records what was done to it. */
class FakeSystem {
  procs = new Map<number, ProcStat>();
  events: string[] = [];
  refuse = new Map<number, DirtyTrackError>();
  /** pid → what its backend's next scan throws */
  failNext = new Map<number, DirtyTrackError>();
  private clock = 1000;

  add(pid: number, extra: Partial<ProcStat> = {}): void {
    this.procs.set(pid, { pid, comm: `p${pid}`, state: 'S', ppid: 1, flags: 0, startTime: this.clock++, ...extra });
  }

  stat = (pid: number) => this.procs.get(pid) ?? null;
  /** pids whose image was replaced (execve) since their backend was opened */
  execed = new Set<number>();
  image = (pid: number) => {
    this.execed.delete(pid);
    return { state: () => (this.execed.has(pid) ? 'exec' as const : this.procs.has(pid) ? 'running' as const : 'exited' as const), close: () => {} };
  };

  open = (pid: number): Backend => {
    const refused = this.refuse.get(pid);
    if (refused) throw refused;
    if (!this.procs.has(pid)) throw new DirtyTrackError('ESRCH', `no such process: ${pid}`);
    this.events.push(`open ${pid}`);
    return {
      name: 'uffd-wp',
      pid,
      clear: () => { this.events.push(`clear ${pid}`); },
      scan: () => {
        const fail = this.failNext.get(pid);
        if (fail) {
          this.failNext.delete(pid);
          throw fail;
        }
        if (!this.procs.has(pid)) throw new DirtyTrackError('ESRCH', `no such process: ${pid}`);
        return makeScanResult(pid, 'uffd-wp', [], [], process.hrtime.bigint());
      },
      close: () => { this.events.push(`close ${pid}`); },
      release: () => { this.events.push(`release ${pid}`); },
    };
  };
}

function setup(source: (sys: FakeSystem) => MemberSource) {
  const sys = new FakeSystem();
  const group = new GroupTracker(source(sys), { stat: sys.stat, open: sys.open, alive: (pid) => sys.procs.get(pid)?.state !== 'Z', image: sys.image });
  return { sys, group };
}

const listed = (sys: FakeSystem): MemberSource => ({ label: 'fake', pids: () => [...sys.procs.keys()] });

describe('GroupTracker', () => {
  it('tracks members found later from the refresh on (cleared then), marks exits gone and closes them', () => {
    const { sys, group } = setup(listed);
    sys.add(10);
    sys.add(11);
    expect(group.refresh(true)).toEqual({ born: [10, 11], gone: [], exec: [], skipped: [] });
    sys.add(12);
    sys.procs.delete(11);
    expect(group.refresh(true)).toEqual({ born: [12], gone: [11], exec: [], skipped: [] });
    expect(sys.events).toEqual(['open 10', 'clear 10', 'open 11', 'clear 11', 'close 11', 'open 12', 'clear 12']);
    expect(group.members().map((m) => [m.pid, m.state, m.since, m.goneAt])).toEqual([[10, 'tracked', 0, undefined], [11, 'gone', 0, 1], [12, 'tracked', 1, undefined]]);
    expect(group.scan().scans.map((s) => s.pid)).toEqual([10, 12]);
    group.close();
    expect(sys.events.filter((e) => e.startsWith('close')).sort()).toEqual(['close 10', 'close 11', 'close 12']);
  });

  it('a member exiting during its scan is gone, the others are scanned', () => {
    const { sys, group } = setup(listed);
    sys.add(10);
    sys.add(11);
    group.refresh(true);
    sys.procs.delete(10);
    const scan = group.scan({ reset: true });
    expect(scan.gone).toEqual([10]);
    expect(scan.scans.map((s) => s.pid)).toEqual([11]);
  });

  it('skips kernel threads, zombies, ourselves and backends that refuse, with the reason, and keeps the rest', () => {
    const { sys, group } = setup(listed);
    sys.add(2, { flags: PF_KTHREAD });
    sys.add(20, { state: 'Z' });
    sys.add(process.pid);
    sys.add(21);
    sys.add(22);
    sys.refuse.set(22, new DirtyTrackError('EPERM', 'userfaultfd() failed inside 22: EPERM (forbidden by a seccomp filter in the target)'));
    const change = group.refresh(true);
    expect(change.born).toEqual([21]);
    expect(change.skipped.map((s) => [s.pid, s.reason.split(':')[0]])).toEqual([
      [2, 'kernel thread'], [20, 'zombie'], [process.pid, 'dirtytrack itself'], [22, 'userfaultfd() failed inside 22'],
    ]);
    expect(group.skipped()).toHaveLength(4);
    expect(group.refresh(true)).toEqual({ born: [], gone: [], exec: [], skipped: [] }); // reported once, not retried
  });

  it('a reused pid is a new member of a tree or cgroup, never of a pid list', () => {
    const tree = setup(listed);
    tree.sys.add(30);
    tree.group.refresh(true);
    tree.sys.procs.delete(30);
    tree.sys.add(30); // same pid, later start time
    expect(tree.group.refresh(true)).toEqual({ born: [30], gone: [30], exec: [], skipped: [] });

    const list = setup(() => pidList([30, 31]));
    list.sys.add(30);
    expect(list.group.refresh(true)).toEqual({ born: [30], gone: [], exec: [], skipped: [{ pid: 31, reason: 'no such process' }] });
    list.sys.procs.delete(30);
    list.sys.add(30);
    list.sys.add(31);
    expect(list.group.refresh(true)).toEqual({ born: [], gone: [30], exec: [], skipped: [] });
    expect(list.group.tracked()).toEqual([]);
  });

  it('after execve (ESRCH from a process still alive) tracking restarts in the new address space', () => {
    const { sys, group } = setup(listed);
    sys.add(40);
    group.refresh(true);
    sys.failNext.set(40, new DirtyTrackError('ESRCH', 'no such process: 40 (exited during the scan)'));
    const scan = group.scan({ reset: true });
    expect(scan.scans.map((s) => s.pid)).toEqual([40]);
    expect(scan.gone).toEqual([]);
    expect(group.members()[0]).toMatchObject({ state: 'tracked', execs: 1 });
    expect(sys.events).toEqual(['open 40', 'clear 40', 'close 40', 'open 40']);
  });

  it('an exec seen through the image (no error from the backend, as with soft-dirty) restarts tracking before the scan', () => {
    const { sys, group } = setup(listed);
    sys.add(45);
    group.refresh(true);
    sys.execed.add(45);
    const scan = group.scan({ reset: true });
    expect(scan.execed).toEqual([45]);
    expect(scan.scans.map((s) => s.pid)).toEqual([45]);
    expect(sys.events).toEqual(['open 45', 'clear 45', 'close 45', 'open 45']);
    expect(group.scan({ reset: true }).execed).toEqual([]);
    expect(group.members()[0].execs).toBe(1);
  });

  it('another failure of a live member skips it with the reason; an unexpected error is rethrown', () => {
    const { sys, group } = setup(listed);
    sys.add(50);
    sys.add(51);
    group.refresh(true);
    sys.failNext.set(50, new DirtyTrackError('EACCES', 'permission denied: cannot open /proc/50/pagemap'));
    expect(group.scan().scans.map((s) => s.pid)).toEqual([51]);
    expect(group.skipped()).toEqual([{ pid: 50, reason: 'permission denied: cannot open /proc/50/pagemap' }]);
    sys.failNext.set(51, new TypeError('a bug') as unknown as DirtyTrackError);
    expect(() => group.scan()).toThrow('a bug');
  });

  it('release() lets go of every member without unregistering (scan after clear)', () => {
    const { sys, group } = setup(listed);
    sys.add(60);
    group.refresh(false);
    group.release();
    expect(sys.events).toEqual(['open 60', 'release 60']);
  });
});
