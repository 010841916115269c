// Section 11: a program finding the pages it changed in its own 1 GiB buffer: trackBuffers() against
// comparing the buffer with a snapshot copy, the way a JavaScript program can without dirtytrack.
import { markdownTable } from '../../experiments/lib/report.js';
import { GiB, MiB, PAGE, sizeLabel, type Section } from '../lib/context.js';
import { fmt, fmtRatioStats, msSince, nowNs, num, stats, type Stats } from '../lib/stats.js';

const WRITE_EVERY = [1000, 100, 10]; // 0.1 %, 1 %, 10 % of the pages
const GOAL_RATIO = 20;               // at 1 %
const GOAL_EVERY = 100;

interface Row {
  every: number;
  pages: number;
  tracker: Stats;
  naive: Stats;
  /** Per round: naive / tracker scan time. */
  ratio: Stats;
  /** The first writes to protected pages fault: writing the round's pages, minus the same writes again. */
  faults: Stats;
  /** Per round: naive / (tracker scan + those faults). */
  ratioWithFaults: Stats;
  exact: boolean;
}

/** Naive: compare page by page with the snapshot, and refresh the snapshot's changed pages. */
function naiveChanged(buf: Buffer, snap: Buffer): number[] {
  const changed: number[] = [];
  for (let off = 0; off < buf.length; off += PAGE) {
    if (buf.compare(snap, off, off + PAGE, off, off + PAGE) !== 0) {
      changed.push(off / PAGE);
      buf.copy(snap, off, off, off + PAGE);
    }
  }
  return changed;
}

export const selfTracking: Section = {
  id: 11,
  title: 'Tracking your own memory: trackBuffers() against comparing with a snapshot',
  async run(ctx) {
    const bytes = ctx.quick ? 64 * MiB : 1 * GiB;
    const rounds = ctx.quick ? 2 : 7;
    let mod: typeof import('../../src/backends/buffer-tracker.js');
    try {
      mod = await import('../../src/backends/buffer-tracker.js');
      mod.trackBuffers([new Uint8Array(PAGE)]).close();
    } catch (err) {
      const reason = (err as Error).message;
      return { markdown: `Not measured: ${reason}.`, goals: [{ goal: `trackBuffers ≥ ${GOAL_RATIO}× faster than a snapshot compare at 1 %`, met: null, measured: reason }], data: { skipped: reason } };
    }
    const buf = Buffer.alloc(bytes, 1); // every page populated, as a program's live data is
    const snap = Buffer.from(buf);
    const pages = bytes / PAGE;
    const tracker = mod.trackBuffers([buf]);
    const rows: Row[] = [];
    try {
      tracker.clear();
      let stamp = 0;
      for (const every of WRITE_EVERY) {
        ctx.log(`  ${sizeLabel(bytes)}, ${100 / every} % of pages written`);
        const t: number[] = [], n: number[] = [], f: number[] = [], r: number[] = [], rf: number[] = [];
        let exact = true, written = 0;
        for (let round = 0; round <= rounds; round++) {
          const shift = round % every;
          const write = () => {
            stamp = (stamp + 1) & 0xff || 1;
            for (let p = shift; p < pages; p += every) buf[p * PAGE + 17] = stamp; // a new value: the compare sees it too
          };
          const w0 = nowNs();
          write(); // faults on every page (protected since the last reset)
          const faulting = msSince(w0);
          const w1 = nowNs();
          write(); // the same pages, no longer protected
          const plain = msSince(w1);
          const s0 = nowNs();
          const scan = tracker.scan({ reset: true });
          const scanMs = msSince(s0);
          const n0 = nowNs();
          const changed = naiveChanged(buf, snap);
          const naiveMs = msSince(n0);
          written = Math.ceil((pages - shift) / every);
          if (round === 0) continue; // warm-up
          // The tracker reports the process's pages, which the buffer need not start on: exact means one
          // page per byte written, each holding it; the compare reports 4 KiB chunks of the buffer.
          const runs = scan.buffers[0].runs;
          let k = 0, covered = true;
          for (let p = shift; p < pages; p += every) {
            const o = p * PAGE + 17;
            while (k < runs.length && runs[k + 1] <= o) k += 2;
            covered &&= k < runs.length && runs[k] <= o;
          }
          exact &&= covered && scan.dirtyPages === written && changed.length === written && changed.every((p, i) => p === shift + i * every);
          t.push(scanMs); n.push(naiveMs); f.push(Math.max(0, faulting - plain));
          r.push(naiveMs / scanMs); rf.push(naiveMs / (scanMs + Math.max(0, faulting - plain)));
        }
        rows.push({ every, pages: written, tracker: stats(t), naive: stats(n), ratio: stats(r), faults: stats(f), ratioWithFaults: stats(rf), exact });
      }
    } finally {
      tracker.close();
    }
    const goalRow = rows.find((x) => x.every === GOAL_EVERY)!;
    const exact = rows.every((x) => x.exact);
    const markdown = [
      `One ${sizeLabel(bytes)} Buffer in the bench's own process, every page populated, and a snapshot copy of it. Each round writes one byte (a new value) on every E-th page, then finds the pages written both ways: **trackBuffers**: \`tracker.scan({ reset: true })\` (src/backends/buffer-tracker.ts: a userfaultfd made in this process registers only the buffer; PAGEMAP_SCAN reads the written pages and re-protects them); **snapshot compare**: \`Buffer#compare\` of each page against the snapshot, copying the changed pages into it (the naive way, with nothing but JavaScript). ${rounds} rounds after a warm-up, ms median (p25–p75); ratio = compare / scan per round. A write to a protected page faults once (the kernel resolves it; no thread involved): that cost falls on the writing code, so it is measured too (the round's writes, minus the same writes again) and the last column counts it against the tracker.`,
      '',
      markdownTable(['written', 'pages', 'trackBuffers scan ms', 'snapshot compare ms', 'ratio', 'faults in the writes, ms', 'ratio, faults counted'],
        rows.map((x) => [`${100 / x.every} %`, x.pages, fmt(x.tracker), fmt(x.naive), fmtRatioStats(x.ratio), fmt(x.faults), fmtRatioStats(x.ratioWithFaults)])),
      '',
      exact ? 'Both found exactly the pages written, in every round.' : '**Warning:** the two did not always find exactly the pages written; see bench.json.',
      '',
      `The snapshot compare costs the same whatever was written (it reads ${sizeLabel(2 * bytes)} each time) and needs a second ${sizeLabel(bytes)}; the tracker's scan grows with the pages written. Compared with snapshots, tracking also catches a write of an unchanged value (a page written is reported even when its bytes came out the same).`,
    ].join('\n');
    return {
      markdown,
      goals: [{
        goal: `trackBuffers at least ${GOAL_RATIO}× faster than a snapshot compare with 1 % of pages written`,
        met: exact && goalRow.ratio.median >= GOAL_RATIO,
        measured: `${fmtRatioStats(goalRow.ratio)} (${num(goalRow.ratioWithFaults.median, 1)}× with the write faults counted)${exact ? '' : '; NOT exact'}`,
      }],
      data: { bytes, rounds, rows },
    };
  },
};
