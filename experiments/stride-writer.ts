import { runLockstep, totals, type LockstepRun } from './lib/lockstep.js';
import { environmentLine, markdownTable } from './lib/report.js';
import type { Experiment } from './index.js';

const PAGES = 4096, STRIDE = 8, PHASES = 8;

export const strideWriter: Experiment<LockstepRun> = {
  name: 'stride-writer',
  kernels: true,
  question: 'Does scan find exactly the pages a target writes, phase by phase?',
  measure: () => runLockstep('stride-writer', ['--pages', String(PAGES), '--stride', String(STRIDE)], PHASES),
  async render(runs) {
    const md = ['# stride-writer: does scan find exactly the written pages?', '',
      `Target: \`stride-writer --pages ${PAGES} --stride ${STRIDE}\` — ${PAGES} pages of 4 KiB, populated before the first clear, MADV_NOHUGEPAGE; phase p stores to every ${STRIDE}th page starting at page p − 1 and reports those pages. Method: clear; then per phase the target writes and reports, dirtytrack scans with reset; detected pages are compared with the reported ones within the target's region. Phase 0 writes nothing.`, ''];
    const answers: string[] = [];
    let ok = runs.length > 0;
    for (const { env, data } of runs) {
      const t = totals(data.rows);
      ok &&= data.rows.every((r) => r.acc.precision === 1 && r.acc.recall === 1);
      md.push(`## ${env.tag}: ${data.backend} on ${env.kernel}`, '', environmentLine(env, data.backend), '',
        markdownTable(['phase', 'written', 'detected', 'true pos.', 'false pos.', 'false neg.', 'precision', 'recall', 'scan ms'],
          data.rows.map((r) => [r.phase === 0 ? '0 (no write)' : r.phase, r.acc.written, r.acc.detected, r.acc.truePositives, r.acc.falsePositives, r.acc.falseNegatives, r.acc.precision, r.acc.recall, r.scanMs])),
        '', `Total: ${t.written} pages written, ${t.tp} found, ${t.fp} false positives, ${t.fn} missed; mean scan ${t.meanScanMs.toFixed(2)} ms for the whole process.`, '');
      answers.push(`${data.backend} on ${env.kernel} (${env.tag}): ${t.tp} of ${t.written} written pages found over ${PHASES} phases, ${t.fp} false positives (precision ${t.precision.toFixed(3)}, recall ${t.recall.toFixed(3)}), nothing after a phase without writes`);
    }
    return { markdown: md.join('\n'), answer: answers.join('; ') + '.', ok };
  },
};
