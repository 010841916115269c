import { createHash } from 'node:crypto';
import { openBackend } from '../../src/backends/select.js';
import type { BackendChoice } from '../../src/backends/select.js';
import { accuracy, detectedIn, type Accuracy } from './metrics.js';
import { Target } from './target.js';

export interface PhaseRow {
  phase: number;
  acc: Accuracy;
  scanMs: number;
  /** Digest of the detected pages relative to the region start: equal digests = identical sets across runs. */
  digest: string;
}

function digest(pages: Set<number>, base: number): string {
  return createHash('sha1').update([...pages].map((p) => p - base).sort((a, b) => a - b).join(',')).digest('hex').slice(0, 12);
}

export interface LockstepRun {
  backend: string;
  target: string;
  rows: PhaseRow[];
}

/** The backend experiments use: DIRTYTRACK_BACKEND, else auto. */
export const experimentBackendChoice = (): BackendChoice => (process.env.DIRTYTRACK_BACKEND as BackendChoice | undefined) ?? 'auto';

/**
 * Spawn a lockstep target, clear, then per phase let it write and scan with reset; phase 0 writes
 * nothing. Accuracy is measured within the target's region against the pages the target reported.
 */
export async function runLockstep(name: string, args: string[], phases: number, backendChoice: BackendChoice = experimentBackendChoice()): Promise<LockstepRun> {
  const t = await Target.spawn(name, args);
  const rows: PhaseRow[] = [];
  try {
    const region = t.region();
    const inRegion = (s: Parameters<typeof detectedIn>[0]) => detectedIn(s, region.startPage, region.startPage + region.pages);
    const backend = openBackend(t.pid, backendChoice);
    try {
      backend.clear();
      const idle = backend.scan({ reset: true });
      const idleSet = inRegion(idle);
      rows.push({ phase: 0, acc: accuracy(new Set(), idleSet), scanMs: idle.scanMs, digest: digest(idleSet, region.startPage) });
      for (let p = 1; p <= phases; p++) {
        const truth = await t.write();
        const scan = backend.scan({ reset: true });
        const found = inRegion(scan);
        rows.push({ phase: p, acc: accuracy(truth, found), scanMs: scan.scanMs, digest: digest(found, region.startPage) });
      }
      return { backend: backend.name, target: `${name} ${args.join(' ')}`, rows };
    } finally {
      backend.close();
    }
  } finally {
    await t.exit();
  }
}

/** Totals over phases. */
export function totals(rows: PhaseRow[]) {
  const sum = (f: (r: PhaseRow) => number) => rows.reduce((a, r) => a + f(r), 0);
  const written = sum((r) => r.acc.written), tp = sum((r) => r.acc.truePositives), fp = sum((r) => r.acc.falsePositives);
  return { written, tp, fp, fn: written - tp, precision: tp + fp === 0 ? 1 : tp / (tp + fp), recall: written === 0 ? 1 : tp / written, meanScanMs: sum((r) => r.scanMs) / rows.length };
}
