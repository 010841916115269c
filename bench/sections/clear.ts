// Section 4: the cost of a reset against mapped size: clear_refs and uffd-wp write-protection.
import { markdownTable } from '../../experiments/lib/report.js';
import { clearSoftDirty } from '../../src/proc/clear-refs.js';
import { BigTarget } from '../lib/big-target.js';
import { cbin, runJson } from '../lib/cbin.js';
import { GiB, MiB, PAGE, pagesOfBytes, sizeLabel, type Section } from '../lib/context.js';
import { fmt, num, stats, timeMs, type Stats } from '../lib/stats.js';
import { uffdWp } from '../lib/uffd.js';

const TOUCH_EVERY = 4;

interface Row {
  bytes: number;
  touched: number;
  clearRefs: Stats;
  wpAfterWrites: Stats | null;
  wpClean: Stats | null;
  cWp: Stats;
  raw: { clearRefs: number[]; wpAfterWrites: number[]; wpClean: number[]; cWpNs: number[] };
}

export const clearing: Section = {
  id: 4,
  title: 'Clearing: clear_refs and write-protect time against mapped size',
  async run(ctx) {
    const sizes = ctx.quick ? [4 * MiB, 16 * MiB] : [64 * MiB, 256 * MiB, 1 * GiB, 4 * GiB, 16 * GiB];
    const reps = ctx.quick ? 2 : 5;
    const uffd = await uffdWp();
    const rows: Row[] = [];
    for (const bytes of sizes) {
      ctx.log(`  clear ${sizeLabel(bytes)}`);
      const t = await BigTarget.spawn({ regionPages: pagesOfBytes(bytes), populateEvery: TOUCH_EVERY });
      const raw = { clearRefs: [] as number[], wpAfterWrites: [] as number[], wpClean: [] as number[], cWpNs: [] as number[] };
      try {
        // clear_refs: every touched page rewritten before each reset.
        for (let i = 0; i < reps; i++) {
          await t.write(1);
          raw.clearRefs.push(...timeMs(() => clearSoftDirty(t.pid), 1, 0));
        }
        if (!('reason' in uffd)) {
          const backend = uffd.open(t.pid);
          try {
            backend.clear(); // registers every region: not timed
            for (let i = 0; i < reps; i++) {
              await t.write(1);
              raw.wpAfterWrites.push(...timeMs(() => backend.clear(), 1, 0));
              raw.wpClean.push(...timeMs(() => backend.clear(), 1, 0));
            }
          } finally {
            backend.close();
          }
        }
      } finally {
        await t.exit();
      }
      const c = runJson<{ writeProtectNs: number[]; touched: number }>(cbin('c-wp'), ['--pages', String(pagesOfBytes(bytes)), '--populate-every', String(TOUCH_EVERY), '--reps', String(reps)]);
      raw.cWpNs = c.writeProtectNs;
      rows.push({
        bytes, touched: t.ready.populatedPages,
        clearRefs: stats(raw.clearRefs),
        wpAfterWrites: raw.wpAfterWrites.length ? stats(raw.wpAfterWrites) : null,
        wpClean: raw.wpClean.length ? stats(raw.wpClean) : null,
        cWp: stats(c.writeProtectNs.map((n) => n / 1e6)),
        raw,
      });
    }
    const perMapped = (s: Stats | null, r: Row) => (s ? num((s.median * 1e6) / (r.bytes / PAGE), 1) : '—');
    const last = rows[rows.length - 1];
    const walkShare = last.wpAfterWrites && last.wpClean ? last.wpClean.median / last.wpAfterWrites.median : null;
    const markdown = [
      `A bench/big-target.c process maps one region and touches one page in ${TOUCH_EVERY}; before each timed reset it rewrites every touched page. ${reps} resets per size; ms, median (p25–p75).`,
      '',
      '- **clear_refs**: `clearSoftDirty(pid)` (writes "4" to /proc/PID/clear_refs). On this kernel, built without CONFIG_MEM_SOFT_DIRTY, the kernel still walks every page table of the process and flushes the TLB but changes no entry, so this is a lower bound of what it costs where soft-dirty exists.',
      '- **uffd-wp clear()**: `UffdWpBackend.clear()` (maps, then UFFDIO_WRITEPROTECT over each registered region), once after the pages were written and once more right after (nothing to re-protect: the cost of the walk alone).',
      '- **C UFFDIO_WRITEPROTECT**: bench/c-wp.c protecting its own mapping of the same size and layout after writing every touched page.',
      '',
      markdownTable(
        ['mapped', 'touched pages', 'clear_refs ms', 'uffd-wp clear() ms, after writes', 'uffd-wp clear() ms, nothing written', 'C UFFDIO_WRITEPROTECT ms', 'clear_refs ns per mapped page', 'clear() ns per mapped page'],
        rows.map((r) => [sizeLabel(r.bytes), r.touched, fmt(r.clearRefs), r.wpAfterWrites ? fmt(r.wpAfterWrites) : '—', r.wpClean ? fmt(r.wpClean) : '—', fmt(r.cWp), perMapped(r.clearRefs, r), perMapped(r.wpAfterWrites, r)]),
      ),
      '',
      'reason' in uffd
        ? `uffd-wp not measured: ${uffd.reason}.`
        : `Both grow with the mapped size, not with what was written: at ${sizeLabel(last.bytes)} a clear() with nothing written since the last one takes ${walkShare === null ? '—' : `${num(walkShare * 100, 0)} %`} of one after every touched page was rewritten. UFFDIO_WRITEPROTECT visits every page-table entry of the range (with UFFD_FEATURE_WP_UNPOPULATED the untouched ones hold markers, so there are page tables everywhere); dirtytrack's clear() costs about what the bare C call does. clear_refs only walks the page tables here and is ${num(last.wpAfterWrites ? last.wpAfterWrites.median / last.clearRefs.median : NaN, 0)}× cheaper at ${sizeLabel(last.bytes)}.`,
    ].join('\n');
    return {
      markdown,
      goals: [],
      data: { reps, touchEvery: TOUCH_EVERY, rows },
    };
  },
};
