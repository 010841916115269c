/**
 * A group as the watch loop's round source. Each round scans (and resets) every member, then re-reads
 * the membership: a member found then is cleared at the same moment as the others' reset, so its
 * first round is a whole one; a member that exited keeps what earlier rounds counted and is reported
 * gone. The loop's working and hot sets come from the keyed sets (aggregate.ts): shared pages once.
 */
import { freeze, freezeByDefault, thaw } from '../proc/freeze.js';
import { residentBytes, systemClock, type Freezer, type RoundScan, type RoundSource } from '../watch/source.js';
import { runWatch, type LoopOptions, type WatchResult } from '../watch/loop.js';
import type { BackendChoice } from '../backends/select.js';
import { PAGE_SIZE } from '../kernel/info.js';
import { countCommonPages, countRuns, unionRuns } from '../ranges.js';
import { DirtyTrackError } from '../errors.js';
import { keyedSets } from './aggregate.js';
import { openGroup, type GroupScan, type GroupTracker } from './group.js';
import type { MemberSource, MembershipChange } from './member.js';
import type { RegionSelector, Runs } from '../types.js';

export interface ProcessRound {
  pid: number;
  dirtyPages: number;
  /** Pages of this process not dirty in any of its earlier rounds. */
  newPages: number;
}

/** What onRound receives for a group. */
export interface GroupRound {
  group: GroupScan;
  processes: ProcessRound[];
  /** Membership changes noticed in this round (gone during the scan included). */
  change: MembershipChange;
}

type Sets = Map<string, Runs>;

function newPagesOf(sets: Sets, seen: Sets): number {
  let n = 0;
  for (const [k, runs] of sets) {
    const old = seen.get(k);
    n += countRuns(runs) - (old ? countCommonPages(runs, old) : 0);
    seen.set(k, old ? unionRuns(old, runs) : runs);
  }
  return n;
}

export function groupSource(tracker: GroupTracker, select?: RegionSelector): RoundSource<GroupRound> {
  const first = tracker.tracked()[0];
  const backend = tracker.backendName();
  if (!first || !backend) throw new DirtyTrackError('ESRCH', `no process in ${tracker.source.label}`);
  const seen = new Map<number, Sets>(); // per member (pid and start time), its own working set
  return {
    backend,
    pid: first.pid,
    clear: () => {
      tracker.clear();
    },
    scan(opts) {
      const group = tracker.scan({ reset: true, includeUnpopulated: opts.includeUnpopulated, select });
      const processes = group.scans.map((s): ProcessRound => {
        const m = tracker.members().find((x) => x.pid === s.pid && x.state === 'tracked');
        const key = m ? m.startTime * 4194304 + m.pid : s.pid;
        const mine = seen.get(key) ?? new Map();
        seen.set(key, mine);
        return { pid: s.pid, dirtyPages: s.dirtyPages, newPages: newPagesOf(keyedSets(s), mine) };
      });
      const change = tracker.refresh(true);
      change.gone.unshift(...group.gone);
      change.exec.push(...group.execed);
      const scan: RoundScan = { pageSize: PAGE_SIZE, dirtyPages: group.dirtyPages, sets: group.sets };
      return { scan, raw: { group, processes, change } };
    },
    state: () => (tracker.tracked().length > 0 ? 'running' : 'exited'),
    // Each member's resident memory: shared pages count once per process (an upper bound for pre-copy).
    residentBytes: () => tracker.tracked().reduce((a, m) => a + residentBytes(m.pid), 0),
    close: () => tracker.close(),
  };
}

/**
 * Stops every tracked member around a scan-and-reset that is not atomic. A member that exits
 * meanwhile is left to the tracker (it notices at the scan).
 */
export function groupFreezer(tracker: GroupTracker, active: boolean): Freezer {
  let frozen: number[] = [];
  return {
    active,
    freeze() {
      if (!active) return;
      for (const m of tracker.tracked()) {
        try {
          freeze(m.pid);
          frozen.push(m.pid);
        } catch (err) {
          if (!(err instanceof DirtyTrackError) || err.code !== 'ESRCH') {
            this.thaw();
            throw err;
          }
        }
      }
    },
    thaw() {
      for (const pid of frozen.reverse()) thaw(pid);
      frozen = [];
    },
  };
}

/** The default as for one process: freeze for the soft-dirty backends (when every member may be signalled), not for uffd-wp. */
export function groupFreezeDefault(tracker: GroupTracker): boolean {
  return freezeByDefault(tracker.backendName(), tracker.tracked().map((m) => m.pid));
}

export interface GroupWatchOptions extends LoopOptions<GroupRound> {
  backend?: BackendChoice;
  /** Stop the members during scan-and-reset; default as for one process (groupFreezeDefault). */
  freeze?: boolean;
  select?: RegionSelector;
}

/** Watch a group: open every member, run the loop over the group source, close every member on every path. */
export async function watchGroup(source: MemberSource, opts: GroupWatchOptions): Promise<WatchResult & { tracker: GroupTracker }> {
  const tracker = openGroup(source, opts.backend ?? 'auto');
  let src: RoundSource<GroupRound>;
  try {
    src = groupSource(tracker, opts.select);
  } catch (err) {
    tracker.close();
    throw err;
  }
  const freezer = groupFreezer(tracker, opts.freeze ?? groupFreezeDefault(tracker));
  return { ...(await runWatch(src, freezer, systemClock, opts)), tracker };
}
