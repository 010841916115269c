// Section 5: what tracking costs the tracked process: throughput of a rewrite loop, untracked and watched.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { markdownTable } from '../../experiments/lib/report.js';
import type { WatchRound } from '../../src/watch/loop.js';
import { cbin, runJson } from '../lib/cbin.js';
import { MiB, PAGE, type Section } from '../lib/context.js';
import { num, stats, type Stats } from '../lib/stats.js';
import { uffdWp } from '../lib/uffd.js';

const GOAL_LOSS = 0.05;

interface Stat { bytes: number; ns: number }

/** Driver for bench/hot-loop.c. `stat` can be sent without waiting (from a synchronous callback) and collected later. */
class HotLoop {
  private readonly replies: AsyncIterator<string>;
  private pending = 0;
  private constructor(readonly child: ReturnType<typeof spawn>, lines: AsyncIterator<string>) {
    this.replies = lines;
  }

  static async start(mib: number): Promise<HotLoop> {
    const child = spawn(cbin('hot-loop'), ['--mib', String(mib)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const h = new HotLoop(child, createInterface({ input: child.stdout! })[Symbol.asyncIterator]());
    const ready = JSON.parse((await h.replies.next()).value);
    if (ready.event !== 'ready') throw new Error(`hot-loop: ${JSON.stringify(ready)}`);
    return h;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Ask for a stat now; the target stamps it when it reads the request. */
  request(): void {
    this.child.stdin!.write('stat\n');
    this.pending++;
  }

  /** The replies to every request so far, in order. */
  async collect(): Promise<Stat[]> {
    const out: Stat[] = [];
    for (; this.pending > 0; this.pending--) {
      const r = JSON.parse((await this.replies.next()).value);
      out.push({ bytes: r.bytes, ns: r.ns });
    }
    return out;
  }

  async exit(): Promise<void> {
    const done = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin!.end('exit\n');
    await done;
  }
}

const gbPerS = (a: Stat, b: Stat): number => (b.bytes - a.bytes) / (b.ns - a.ns); // bytes per ns = GB/s

interface Tracked { intervalMs: number; gbps: number; rounds: WatchRound[]; windowS: number }

export const targetCost: Section = {
  id: 5,
  title: 'Cost to the tracked process',
  async run(ctx) {
    const mib = ctx.quick ? 16 : 64;
    const intervals = [10, 100, 1000];
    const windowMs = (interval: number) => (ctx.quick ? Math.max(1000, 2 * interval) : Math.max(4000, 10 * interval));
    const repeats = ctx.quick ? 1 : 4;
    const uffd = await uffdWp();
    const hotPages = (mib * MiB) / PAGE;
    const fault = runJson<{ faultNsPerPage: number }>(cbin('c-wp'), ['--pages', String(hotPages), '--reps', ctx.quick ? '3' : '9']);
    let reason = 'reason' in uffd ? uffd.reason : undefined;
    let watch: typeof import('../../src/watch/loop.js').watch | undefined;
    if (!reason) {
      try {
        ({ watch } = await import('../../src/watch/loop.js'));
      } catch (err) {
        reason = `src/watch/loop.ts does not load: ${(err as Error).message}`;
      }
    }
    if (reason !== undefined || !watch) {
      return { markdown: `Not measured: ${reason}.`, goals: [{ goal: `loss under ${GOAL_LOSS * 100} % at a 1 s interval (uffd-wp)`, met: null, measured: reason ?? '' }], data: { skipped: reason, faultNsPerPage: fault.faultNsPerPage } };
    }

    const h = await HotLoop.start(mib);
    const baseline: number[] = [];
    const tracked: Tracked[] = [];
    try {
      const untracked = async (ms: number) => {
        h.request();
        await sleep(ms);
        h.request();
        const [a, b] = await h.collect();
        baseline.push(gbPerS(a, b));
      };
      await untracked(1000); // warm-up
      baseline.length = 0;
      for (let rep = 0; rep < repeats; rep++) {
        for (const interval of intervals) {
          await untracked(windowMs(interval) / 2);
          ctx.log(`  watch every ${interval} ms for ${windowMs(interval) / 1000} s (${rep + 1}/${repeats})`);
          const { rounds } = await watch(h.pid, {
            backend: 'uffd-wp', intervalMs: interval, timeoutMs: windowMs(interval), maxRounds: 1e9, tolerance: 0, stable: 1e9,
            afterReset: () => h.request(),
          });
          const stamps = await h.collect();
          tracked.push({ intervalMs: interval, gbps: gbPerS(stamps[0], stamps[stamps.length - 1]), rounds, windowS: (stamps[stamps.length - 1].ns - stamps[0].ns) / 1e9 });
        }
      }
      await untracked(2000);
    } finally {
      await h.exit();
    }

    const base = stats(baseline);
    // Each tracked window is compared with the untracked window right before it (baseline[i] precedes
    // tracked[i]), so a slow drift of the machine does not read as a loss.
    const pairLoss = tracked.map((t, i) => 1 - t.gbps / baseline[i]);
    const rows = intervals.map((interval) => {
      const runs = tracked.filter((t) => t.intervalMs === interval);
      const losses = stats(pairLoss.filter((_, i) => tracked[i].intervalMs === interval));
      const thr = stats(runs.map((r) => r.gbps));
      const rounds = runs.flatMap((r) => r.rounds);
      const pages = stats(rounds.map((r) => r.dirtyPages));
      const measuredInterval = stats(rounds.map((r) => r.intervalMs));
      const scanMs = stats(rounds.map((r) => r.scanMs));
      const loss = losses.median;
      const predicted = (pages.median * fault.faultNsPerPage) / (measuredInterval.median * 1e6);
      return { interval, runs: runs.length, thr, pages, measuredInterval, scanMs, loss, losses, predicted };
    });
    const at1s = rows.find((r) => r.interval === 1000)!;
    const fmtS = (s: Stats, d = 2) => `${num(s.median, d)} (${num(s.min, d)}–${num(s.max, d)})`;
    const markdown = [
      `bench/hot-loop.c rewrites a ${mib} MiB hot set (${hotPages} pages, memset page after page) in a loop on one core; the tracker runs \`watch()\` (src/watch/loop.ts) with the uffd-wp backend — the only backend that works on this kernel — on the other core. Throughput is what the loop itself counts between two of its own timestamps: for a tracked run, from right after the first reset to right after the last (attach and detach excluded). ${repeats} tracked windows per interval, each right after an untracked window of half its length; GB/s as median (min–max). The loss of a tracked window is measured against the untracked window just before it; the table gives the median (min–max) of those.`,
      '',
      `Fault cost: ${num(fault.faultNsPerPage, 0)} ns per page for the first store to a write-protected page (bench/c-wp.c: stores right after UFFDIO_WRITEPROTECT minus the same stores again, over ${hotPages} pages). Prediction = pages written per interval × fault cost ÷ measured interval.`,
      '',
      markdownTable(
        ['interval', 'throughput GB/s', 'loss (min–max)', 'predicted loss', 'pages written per interval', 'measured interval ms', 'tracker scan+reset ms'],
        [
          ['untracked', fmtS(base), '—', '—', '—', '—', '—'],
          ...rows.map((r) => [r.interval >= 1000 ? `${r.interval / 1000} s` : `${r.interval} ms`, fmtS(r.thr), `${num(r.loss * 100, 1)} % (${num(r.losses.min * 100, 1)}–${num(r.losses.max * 100, 1)})`, `${num(r.predicted * 100, 1)} %`, num(r.pages.median, 0), num(r.measuredInterval.median, 1), num(r.scanMs.median, 2)]),
        ],
      ),
      '',
      `Each interval re-protects the whole hot set, so every page the loop rewrites faults once per interval: the predicted loss is fault cost × pages written per interval ÷ interval (at 10 ms the loop no longer gets through its ${hotPages} pages in one interval, so fewer pages fault, but the loop runs mostly in faults). The prediction counts only the faults; the re-protection's TLB flushes and page-table locking, and the tracker's own CPU time on this 2-CPU machine, come on top. The spread of the untracked windows (min–max above) bounds how finely a loss can be read here.`,
    ].join('\n');
    return {
      markdown,
      goals: [{ goal: `loss under ${GOAL_LOSS * 100} % at a 1 s interval (uffd-wp)`, met: at1s.loss < GOAL_LOSS, measured: `${num(at1s.loss * 100, 1)} % (${num(at1s.losses.min * 100, 1)}–${num(at1s.losses.max * 100, 1)} % over ${at1s.runs} windows; predicted ${num(at1s.predicted * 100, 1)} %)` }],
      data: { mib, hotPages, faultNsPerPage: fault.faultNsPerPage, baselineGBps: baseline, base, pairLoss, rows, tracked: tracked.map((t) => ({ intervalMs: t.intervalMs, gbps: t.gbps, windowS: t.windowS, rounds: t.rounds.length })) },
    };
  },
};
