import { watch, type WatchOptions, type WatchRound, type WatchSummary } from '../../src/watch/loop.js';
import { coalesce, rangesToRuns } from '../../src/ranges.js';
import type { Runs, ScanResult } from '../../src/types.js';
import { alignWrites, type Alignment, type Boundary } from './align.js';
import { detectedIn } from './metrics.js';
import { Target, type TargetRegion } from './target.js';
import { TruthLog } from './truth-log.js';

export interface TruthRound extends WatchRound {
  /** Pages the tracker reported inside the target's region. */
  detectedInRegion: number;
  /** Distinct pages of the writes certainly inside this round's window, from the target's log. */
  truthPages: number;
}

export interface WatchedRun {
  region: TargetRegion;
  rounds: TruthRound[];
  summary: WatchSummary;
  /** Absent when the target died before its log could be read. */
  alignment?: Alignment;
  /** Writes the target completed while watched. */
  writes: number;
  /** With keepTruthPages: per round, the pages of the writes certainly inside it (page numbers). */
  truthRuns?: Runs[];
}

export type WatchDefaults = Pick<WatchOptions, 'intervalMs' | 'tolerance' | 'stable' | 'maxRounds' | 'timeoutMs'>;
export const WATCH_DEFAULTS: WatchDefaults = { intervalMs: 200, tolerance: 0.05, stable: 3, maxRounds: 30, timeoutMs: 60_000 };

/**
 * Watch a free-running rate-writer and align every round with the writes its own log records
 * (counts read around each reset, inside the freeze when freezing). `onRound` may end the run early.
 */
export async function watchRateWriter(args: string[], opts: Partial<WatchOptions> = {}, onRound?: (r: WatchRound, target: Target, scan: ScanResult) => void, keepTruthPages = false): Promise<WatchedRun> {
  const target = await Target.spawn('rate-writer', args);
  const region = target.region();
  const truth = new TruthLog(target.pid, BigInt(target.ready.counter as string));
  const boundaries: Boundary[] = [];
  const detected: Array<Set<number>> = [new Set()];
  const rounds: TruthRound[] = [];
  try {
    await target.command('start');
    const { summary } = await watch(target.pid, {
      ...WATCH_DEFAULTS,
      ...opts,
      beforeReset: (n) => { boundaries[n] = { before: truth.count(), after: -1 }; },
      afterReset: (n) => { boundaries[n].after = truth.count(); },
      onRound: (r, scan) => {
        const inRegion = detectedIn(scan, region.startPage, region.startPage + region.pages);
        detected[r.round] = inRegion;
        rounds.push({ ...r, detectedInRegion: inRegion.size, truthPages: 0 });
        onRound?.(r, target, scan);
      },
    });
    // A reset that failed (target gone) has no `after`: it bounds nothing.
    while (boundaries.length && boundaries[boundaries.length - 1].after < 0) boundaries.pop();
    let alignment: Alignment | undefined;
    let truthRuns: Runs[] | undefined;
    let writes = boundaries.at(-1)?.after ?? 0;
    if (summary.reason !== 'exited') {
      writes = truth.count();
      alignment = alignWrites(boundaries.slice(0, rounds.length + 1), (from, to) => truth.pages(from, to).map((p) => p + region.startPage), detected);
      rounds.forEach((r, i) => { r.truthPages = alignment!.certain[i + 1] ?? 0; });
      if (keepTruthPages) {
        truthRuns = rounds.map((_, i) => {
          const from = boundaries[i].after + 1, to = boundaries[i + 1].before;
          return rangesToRuns(to > from ? coalesce(truth.pages(from, to).map((p) => p + region.startPage)) : []);
        });
      }
      await target.command('stop');
    }
    return { region, rounds, summary, alignment, writes, truthRuns };
  } finally {
    truth.close();
    await target.exit();
  }
}
