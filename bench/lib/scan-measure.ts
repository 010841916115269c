import { withBigTarget, type BigTarget, type BigTargetOptions, type Ready } from './big-target.js';
import { cbin, runJson } from './cbin.js';
import type { Ctx } from './context.js';
import { stats, timeWallCpu, type Stats } from './stats.js';
import { softDirtyScanner } from './ts-scan.js';

export interface ScanPair {
  target: BigTargetOptions;
  ready: Ready;
  /** Wall-clock milliseconds per full scan (maps → pagemap → ranges). */
  ts: number[];
  c: number[];
  tsStats: Stats;
  cStats: Stats;
  /** CPU milliseconds (user + system) per scan: immune to time the VM or the scheduler took away. */
  tsCpu: number[];
  cCpu: number[];
  tsCpuStats: Stats;
  cCpuStats: Stats;
  /**
   * dirtytrack / C per round (median of its block over the C block run just before it), wall clock and
   * CPU time: pairing neighbours in time cancels the machine's slow drifts.
   */
  roundRatios: number[];
  roundCpuRatios: number[];
  ratio: Stats;
  cpuRatio: Stats;
  /** Entries each reader read in one scan, and regions it scanned: the two must agree. */
  tsEntries: number;
  cEntries: number;
  tsRegions: number;
  cRegions: number;
  /** Whatever the caller's `extra` measured on the same target. */
  extra?: Record<string, number>;
  /** With `plain`: the TypeScript reader region by region (as without the addon), in the same rounds, and its ratio to C. */
  plain?: { ms: number[]; stats: Stats; roundRatios: number[]; ratio: Stats };
}

export interface PairPlan {
  rounds: number;
  reps: number;
  /** Also time the plain TypeScript reader (no native walk) in every round. */
  plain?: boolean;
}

export function cScan(pid: number, reps: number, extra: string[] = []): { ns: number[]; cpuNs: number[]; entries: number; regions: number; dirtyPages: number; ranges: number } {
  return runJson(cbin('c-scan'), ['--pid', String(pid), '--reps', String(reps), '--warmup', '1', ...extra]);
}

/**
 * dirtytrack's scan and the C reference on the same target, alternating in `rounds` blocks of
 * `reps` timed scans each (one untimed warm-up per block), so drift in the machine hits both alike.
 */
export function measurePair(t: BigTarget, plan: PairPlan): Omit<ScanPair, 'target' | 'ready'> {
  const scanner = softDirtyScanner(t.pid);
  const plainScanner = plan.plain ? softDirtyScanner(t.pid, { plain: true }) : undefined;
  const plain: number[] = [], plainRatios: number[] = [];
  const ts: number[] = [], c: number[] = [], tsCpu: number[] = [], cCpu: number[] = [];
  const roundRatios: number[] = [], roundCpuRatios: number[] = [];
  const med = (xs: number[]) => stats(xs).median;
  let tsEntries = 0, tsRegions = 0, cEntries = 0, cRegions = 0;
  for (let r = 0; r < plan.rounds; r++) {
    const cr = cScan(t.pid, plan.reps);
    c.push(...cr.ns.map((n) => n / 1e6));
    cCpu.push(...cr.cpuNs.map((n) => n / 1e6));
    cEntries = cr.entries;
    cRegions = cr.regions;
    const tr = timeWallCpu(() => {
      const res = scanner.scan();
      tsRegions = res.regions.length;
      tsEntries = res.regions.reduce((a, x) => a + x.pages, 0);
    }, plan.reps, 1);
    ts.push(...tr.wall);
    tsCpu.push(...tr.cpu);
    roundRatios.push(med(tr.wall) / med(cr.ns.map((n) => n / 1e6)));
    roundCpuRatios.push(med(tr.cpu) / med(cr.cpuNs.map((n) => n / 1e6)));
    if (plainScanner) {
      const pr = timeWallCpu(() => plainScanner.scan(), plan.reps, 1);
      plain.push(...pr.wall);
      plainRatios.push(med(pr.wall) / med(cr.ns.map((n) => n / 1e6)));
    }
  }
  return {
    ts, c, tsStats: stats(ts), cStats: stats(c), tsCpu, cCpu, tsCpuStats: stats(tsCpu), cCpuStats: stats(cCpu),
    roundRatios, roundCpuRatios, ratio: stats(roundRatios), cpuRatio: stats(roundCpuRatios),
    tsEntries, cEntries, tsRegions, cRegions,
    ...(plainScanner ? { plain: { ms: plain, stats: stats(plain), roundRatios: plainRatios, ratio: stats(plainRatios) } } : {}),
  };
}

/** Measure a target configuration once per run; later sections reuse the result. */
export async function scanPair(ctx: Ctx, target: BigTargetOptions, plan: PairPlan, extra?: (t: BigTarget) => Record<string, number>): Promise<ScanPair> {
  const key = 'scan-pair:' + JSON.stringify(target);
  const hit = ctx.cache.get(key) as ScanPair | undefined;
  if (hit && (!extra || hit.extra) && (!plan.plain || hit.plain)) return hit;
  const res = await withBigTarget(target, (t) => ({ target, ready: t.ready, ...measurePair(t, plan), ...(extra ? { extra: extra(t) } : {}) }));
  if (res.tsEntries !== res.cEntries || res.tsRegions !== res.cRegions) {
    throw new Error(`readers disagree on ${JSON.stringify(target)}: TypeScript ${res.tsEntries} entries in ${res.tsRegions} regions, C ${res.cEntries} in ${res.cRegions}`);
  }
  ctx.cache.set(key, res);
  return res;
}
