// A group holding hostile members (natively, uffd-wp): a seccomp-sandboxed process is skipped with the
// reason and never harmed, a user-stopped one stays stopped, the rest of the group is tracked exactly.
import { afterEach, describe, expect, it } from 'vitest';
import { Family } from '../../experiments/lib/family.js';
import { accuracy } from '../../experiments/lib/metrics.js';
import { watchGroup } from '../../src/targets/group-source.js';
import { openGroup } from '../../src/targets/group.js';
import { pidList } from '../../src/targets/member.js';
import { exitAll, expectUnharmed, pagesIn, processState, spawnHostile, uffdInodes } from '../hostile/helpers.js';
import { workingBackends } from '../tracking/backends.js';

const families: Family[] = [];
afterEach(async () => {
  for (const f of families.splice(0)) await f.exit();
  await exitAll();
});

describe.runIf(workingBackends().includes('uffd-wp'))('hostile members of a group (uffd-wp)', () => {
  it('a seccomp-sandboxed member is skipped with the reason and unharmed; the others are tracked exactly', async () => {
    const f = await Family.spawn(['--pages', '128', '--count', '10', '--shared-pages', '16', '--shared-count', '4', '--children', '1']);
    families.push(f);
    const sandboxed = await spawnHostile('seccomp-target', ['--action', 'kill_process']);
    const group = openGroup(pidList([...f.procs, sandboxed.pid]), 'uffd-wp', true);
    try {
      expect(group.tracked().map((m) => m.pid)).toEqual(f.procs);
      expect(group.skipped()).toHaveLength(1);
      expect(group.skipped()[0].pid).toBe(sandboxed.pid);
      expect(group.skipped()[0].reason).toMatch(/seccomp filter that answers userfaultfd\(\) with SECCOMP_RET_KILL_PROCESS/);
      const truth = await f.write();
      const scan = group.scan({ reset: true });
      for (const t of truth) {
        const s = scan.scans.find((x) => x.pid === t.pid)!;
        const found = new Set<number>();
        for (const r of s.regions) for (const [a, b] of r.dirty) for (let p = a; p < b; p++) if (Object.values(t.regions).some((x) => p >= x.startPage && p < x.startPage + x.pages)) found.add(p);
        expect(accuracy(t.pages, found)).toMatchObject({ recall: 1, precision: 1 });
      }
    } finally {
      group.close();
    }
    await expectUnharmed(sandboxed);
    expect((await sandboxed.command('status')).sigsys).toBe(0);
    expect(uffdInodes(sandboxed.pid)).toEqual([]);
  });

  it('a process whose main thread exited (a zombie leader, other threads running) is a member, tracked exactly', async () => {
    const t = await spawnHostile('leader-exit', []);
    for (let i = 0; i < 100 && processState(t.pid) !== 'Z'; i++) await new Promise((r) => setTimeout(r, 10)); // main exits right after starting its worker
    expect(processState(t.pid)).toBe('Z');
    const group = openGroup(pidList([t.pid]), 'uffd-wp', true);
    try {
      expect(group.skipped()).toEqual([]);
      const truth = await t.write();
      expect(truth.size).toBeGreaterThan(0);
      expect(accuracy(truth, pagesIn(t, group.scan({ reset: true }).scans[0]))).toMatchObject({ recall: 1, precision: 1 });
    } finally {
      group.close();
    }
    expect(uffdInodes(t.pid)).toEqual([]);
  });

  it('a member stopped by its user stays stopped through a group watch, and is tracked', async () => {
    const stopped = await spawnHostile('fork-writer', []);
    const running = await spawnHostile('fork-writer', []);
    process.kill(stopped.pid, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 50));
    expect(processState(stopped.pid)).toBe('T');
    const { summary, tracker } = await watchGroup(pidList([stopped.pid, running.pid]), { backend: 'uffd-wp', intervalMs: 30, maxRounds: 3, timeoutMs: 10_000, tolerance: 0.05, stable: 5 });
    expect(summary.reason).toBe('max-rounds');
    expect(tracker.members().map((m) => m.state)).toEqual(['tracked', 'tracked']);
    expect(processState(stopped.pid)).toBe('T');
    for (const t of [stopped, running]) expect(uffdInodes(t.pid)).toEqual([]); // closed on the way out
  });
});
