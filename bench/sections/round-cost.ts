// Section 12: what one round of a long watch costs, for a 16 GiB target at 1 s intervals: the
// tracker's CPU time and the target's pause, per backend.
import { markdownTable } from '../../experiments/lib/report.js';
import { clearSoftDirty } from '../../src/proc/clear-refs.js';
import { freeze, thaw } from '../../src/proc/freeze.js';
import { BigTarget } from '../lib/big-target.js';
import { GiB, MiB, pagesOfBytes, sizeLabel, type Section } from '../lib/context.js';
import { fmt, msSince, nowNs, stats, type Stats } from '../lib/stats.js';
import { softDirtyScanner } from '../lib/ts-scan.js';
import { uffdWp } from '../lib/uffd.js';

const TOUCH_EVERY = 4;
const WRITE_EVERY = 100; // 1 % of the touched pages written each round

interface Row { backend: string; how: string; rounds: number; cpu: Stats; wall: Stats; pause: Stats; pages: Stats; note: string }

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

export const roundCost: Section = {
  id: 12,
  title: 'The cost of each round of a long watch',
  async run(ctx) {
    const bytes = ctx.quick ? 256 * MiB : 16 * GiB;
    const intervalMs = ctx.quick ? 200 : 1000;
    const rounds = ctx.quick ? 3 : 12;
    const t = await BigTarget.spawn({ regionPages: pagesOfBytes(bytes), populateEvery: TOUCH_EVERY });
    const rows: Row[] = [];
    try {
      const uffd = await uffdWp();
      if ('reason' in uffd) {
        rows.push({ backend: 'uffd-wp', how: '', rounds: 0, cpu: stats([NaN]), wall: stats([NaN]), pause: stats([NaN]), pages: stats([NaN]), note: `not measured: ${uffd.reason}` });
      } else {
        ctx.log(`  uffd-wp: watch() every ${intervalMs} ms, ${rounds} rounds`);
        const { watch } = await import('../../src/watch/loop.js');
        let writes = Promise.resolve(0);
        let c0 = 0;
        const cpu: number[] = [];
        const { rounds: done } = await watch(t.pid, {
          backend: 'uffd-wp', intervalMs, timeoutMs: 1e9, maxRounds: rounds, tolerance: 0, stable: 1e9,
          beforeReset: () => { c0 = cpuMs(); },
          afterReset: (round) => {
            if (round > 0) cpu.push(cpuMs() - c0);
            writes = writes.then(() => t.write(WRITE_EVERY)); // the target writes during the next interval
          },
        });
        await writes;
        const measured = done.slice(1); // round 1 also registers and scans everything new since attaching
        rows.push({
          backend: 'uffd-wp', how: '`watch()`: one PAGEMAP_SCAN walk with WP_MATCHING per round (scan and reset in one), target never stopped',
          rounds: measured.length, cpu: stats(cpu.slice(1)), wall: stats(measured.map((r) => r.scanMs)), pause: stats(measured.map((r) => r.pauseMs)), pages: stats(measured.map((r) => r.dirtyPages)),
          note: 'each page written also takes one write fault in the target (bench section 5 measures its cost)',
        });
      }
      // soft-dirty does not work on a kernel without CONFIG_MEM_SOFT_DIRTY, but its round does the same
      // work there: stop the target, read every entry, clear_refs, resume (the answer is empty).
      ctx.log(`  soft-dirty round (pread walk + clear_refs, target stopped), ${rounds} rounds`);
      const scanner = softDirtyScanner(t.pid);
      const cpu: number[] = [], wall: number[] = [], pause: number[] = [];
      for (let round = 0; round <= rounds; round++) {
        await t.write(WRITE_EVERY);
        await new Promise((resolve) => setTimeout(resolve, ctx.quick ? 50 : 200));
        const c = cpuMs(), w = nowNs();
        freeze(t.pid);
        const p = nowNs();
        scanner.scan();
        clearSoftDirty(t.pid);
        thaw(t.pid);
        const paused = msSince(p);
        if (round === 0) continue;
        cpu.push(cpuMs() - c); wall.push(msSince(w)); pause.push(paused);
      }
      rows.push({
        backend: 'soft-dirty', how: 'freeze, the addon\'s pread walk over every mapping, clear_refs, thaw (as `watch` does with soft-dirty)',
        rounds, cpu: stats(cpu), wall: stats(wall), pause: stats(pause), pages: stats([NaN]),
        note: 'measured on a kernel without CONFIG_MEM_SOFT_DIRTY: every entry is still read and every page table walked, no page is found',
      });
    } finally {
      await t.exit();
    }
    const markdown = [
      `Target: bench/big-target.c with ${sizeLabel(bytes)} mapped, one page in ${TOUCH_EVERY} touched (${t.ready.populatedPages} pages resident); it writes 1 % of its touched pages in each interval. Per round, median (p25–p75) over ${rounds} rounds after the first: the tracker's CPU time (user + system of the bench process from just before the reset to just after), its wall time for scan-and-reset, and how long the target was stopped.`,
      '',
      markdownTable(['backend', 'round', 'tracker CPU ms per round', 'scan + reset wall ms', 'target stopped ms', 'pages found per round', 'note'],
        rows.map((r) => [r.backend, r.how, fmt(r.cpu), fmt(r.wall), fmt(r.pause), Number.isNaN(r.pages.median) ? '—' : fmt(r.pages, 0), r.note])),
      '',
      `At ${intervalMs / 1000} s intervals the tracker's CPU time per round is its share of one CPU: ${rows.filter((r) => !Number.isNaN(r.cpu.median)).map((r) => `${r.backend} ${(r.cpu.median / intervalMs * 100).toFixed(1)} %`).join(', ')}.`,
    ].join('\n');
    return { markdown, goals: [], data: { bytes, intervalMs, rounds, rows } };
  },
};
