// The group round source against fakes: per-process newPages, membership noticed at the end of a round,
// the loop's totals over keyed sets (a shared page written by two processes counted once).
import { describe, expect, it } from 'vitest';
import { DirtyTrackError } from '../../src/errors.js';
import { groupSource } from '../../src/targets/group-source.js';
import { GroupTracker } from '../../src/targets/group.js';
import type { MemberSource } from '../../src/targets/member.js';
import { runWatch } from '../../src/watch/loop.js';
import { makeScanResult, regionResult } from '../../src/scan-result.js';
import { parseMapsLine } from '../../src/proc/maps.js';
import { countRuns, rangesToRuns } from '../../src/ranges.js';
import type { ProcStat } from '../../src/proc/process.js';
import type { Backend, PageRange } from '../../src/types.js';

const heap = parseMapsLine('55e66984b000-55e6699da000 rw-p 00000000 00:00 0 [heap]');
const shm = parseMapsLine('7f0000000000-7f0000040000 rw-s 00000000 00:01 4242 /memfd:x (deleted)');
const base = (r: typeof heap) => Number(r.start / 4096n);

/** Each pid writes, per round (1-based), these heap and shm page indices. */
type Plan = Record<number, Array<{ heap: number[]; shm: number[] }>>;

function fakeGroup(plan: Plan, alive: () => number[]) {
  const rounds = new Map<number, number>();
  const stat = (pid: number): ProcStat | null => (alive().includes(pid) ? { pid, comm: 'w', state: 'S', ppid: 1, flags: 0, startTime: pid } : null);
  const open = (pid: number): Backend => ({
    name: 'uffd-wp', pid,
    clear: () => {},
    scan: () => {
      if (!alive().includes(pid)) throw new DirtyTrackError('ESRCH', `no such process: ${pid}`);
      const n = rounds.get(pid) ?? 0;
      rounds.set(pid, n + 1);
      const w = plan[pid][n] ?? { heap: [], shm: [] };
      const region = (r: typeof heap, idx: number[]) => {
        const runs = rangesToRuns(idx.map((i): PageRange => [base(r) + i, base(r) + i + 1]));
        return regionResult(r, runs, countRuns(runs));
      };
      return makeScanResult(pid, 'uffd-wp', [region(heap, w.heap), region(shm, w.shm)], [], process.hrtime.bigint());
    },
    close: () => {},
    release: () => {},
  });
  const source: MemberSource = { label: 'fake', pids: alive };
  const tracker = new GroupTracker(source, { stat, open, image: () => ({ state: () => 'running', close: () => {} }) });
  tracker.refresh(true);
  return tracker;
}

const clock = () => {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => { t += ms; } };
};
const noFreeze = { active: false, freeze() {}, thaw() {} };

describe('groupSource in the watch loop', () => {
  it('counts a shared page once in the total, each process\'s new pages against its own past, members as they come and go', async () => {
    let pids = [101, 102];
    const plan: Plan = {
      101: [{ heap: [0, 1], shm: [5, 6] }, { heap: [1, 2], shm: [6] }, { heap: [2], shm: [] }],
      102: [{ heap: [0], shm: [6, 7] }, { heap: [0], shm: [7] }],
      103: [{ heap: [9], shm: [5] }],
    };
    const tracker = fakeGroup(plan, () => pids);
    const seen: Array<{ processes: unknown; born: number[]; gone: number[] }> = [];
    const { rounds } = await runWatch(groupSource(tracker), noFreeze, clock(), {
      intervalMs: 10, maxRounds: 3, timeoutMs: 1e9, tolerance: 0, stable: 5,
      onRound: (_r, g) => {
        seen.push({ processes: g.processes, born: g.change.born, gone: g.change.gone });
        if (seen.length === 1) pids = [101, 102, 103]; // 103 is born after round 1's scan
        if (seen.length === 2) pids = [101, 103]; // 102 exits after round 2
      },
    });
    // round 1: pid 101 heap 0,1 + shm 5,6; pid 102 heap 0 + shm 6,7 → 3 private pages + shm {5,6,7} = 6 (one merged)
    expect(rounds.map((r) => r.dirtyPages)).toEqual([6, 5, 3]);
    expect(seen[0].processes).toEqual([{ pid: 101, dirtyPages: 4, newPages: 4 }, { pid: 102, dirtyPages: 3, newPages: 3 }]);
    expect(seen[1].processes).toEqual([{ pid: 101, dirtyPages: 3, newPages: 1 }, { pid: 102, dirtyPages: 2, newPages: 0 }]);
    expect(seen[1].born).toEqual([103]);
    expect(seen[2].processes).toEqual([{ pid: 101, dirtyPages: 1, newPages: 0 }, { pid: 103, dirtyPages: 2, newPages: 2 }]);
    expect(seen[2].gone).toEqual([102]);
    // the group's working set: 101 heap {0,1,2}, 102 heap {0}, 103 heap {9}, shm {5,6,7} = 8
    expect(rounds.at(-1)!.workingSetPages).toBe(8);
    expect(rounds.map((r) => r.newPages)).toEqual([6, 1, 1]);
    expect(tracker.members().map((m) => [m.pid, m.state])).toEqual([[101, 'tracked'], [102, 'gone'], [103, 'tracked']]);
  });
});
