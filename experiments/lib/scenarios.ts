import { openBackend } from '../../src/backends/select.js';
import type { BackendName, ScanResult } from '../../src/types.js';
import { accuracy, detectedIn, type Accuracy } from './metrics.js';
import { Target } from './target.js';

/**
 * Kernel behaviours worth a ground-truth scenario (../shared/SCENARIOS.md): each drives the `scenario`
 * target through one sequence after a clear and compares what the tracker reports with what the target
 * says it wrote, within the regions the scenario concerns.
 */
export interface ScenarioOutcome {
  acc: Accuracy;
  /** Pages reported with --include-unpopulated (the raw soft-dirty view), in the same regions. */
  rawDetected?: number;
  note?: string;
}

export interface Scenario {
  name: string;
  /** What the kernel documentation and selftests say a soft-dirty kernel reports. */
  expected: string;
  /** Whether dirtytrack promises recall and precision 1.0 here (else the row is a measurement). */
  exact: boolean;
  args: string[];
  /** Drive the target after the first clear; return the truth (absolute pages) and the regions to compare. */
  drive(t: Target, scan: () => ScanResult): Promise<{ truth: Set<number>; regions: string[]; note?: string }>;
}

const none = new Set<number>();

export const SCENARIOS: Scenario[] = [
  { name: 'clear, no write', expected: 'nothing dirty', exact: true, args: ['--pages', '64', '--populate'],
    drive: async () => ({ truth: none, regions: ['main'] }) },
  { name: 'clear, write 1 byte', expected: 'exactly that page', exact: true, args: ['--pages', '64', '--populate'],
    drive: async (t) => ({ truth: await t.write('write 17'), regions: ['main'] }) },
  { name: 'clear, read only (zero page, MADV_POPULATE_READ)', expected: 'nothing', exact: true, args: ['--pages', '64'],
    drive: async (t) => { await t.command('read 1,2,3'); await t.command('populate-read 10 20'); return { truth: none, regions: ['main'] }; } },
  { name: 'clear, MADV_POPULATE_WRITE of 10 pages', expected: 'the whole range', exact: true, args: ['--pages', '64'],
    drive: async (t) => ({ truth: t.truthOf(await t.command('populate-write 10 20')), regions: ['main'] }) },
  { name: 'fresh mmap after the clear, never touched', expected: 'every page soft-dirty but not present: counted only in the raw view', exact: true, args: ['--pages', '64', '--populate'],
    drive: async (t) => { await t.command('mmap fresh 32'); return { truth: none, regions: ['fresh'] }; } },
  { name: 'fresh mmap after the clear, 2 pages written', expected: 'the written pages (the new region is tracked from its first write)', exact: true, args: ['--pages', '64', '--populate'],
    drive: async (t) => { await t.command('mmap fresh 32'); return { truth: await t.write('write fresh 3,30'), regions: ['fresh'] }; } },
  { name: 'munmap + mmap at the same address after the clear, then 1 write', expected: 'the whole new mapping in the raw view; the written page', exact: true, args: ['--pages', '64', '--populate'],
    drive: async (t) => { await t.command('remap'); return { truth: await t.write('write 9'), regions: ['main'] }; } },
  { name: 'mprotect read-only then read-write, no write', expected: 'nothing', exact: true, args: ['--pages', '64', '--populate'],
    drive: async (t) => { await t.command('mprotect 0 64 ro'); await t.command('mprotect 0 64 rw'); return { truth: none, regions: ['main'] }; } },
  { name: 'mprotect read-only then read-write, then 1 write', expected: 'that page', exact: true, args: ['--pages', '64', '--populate'],
    drive: async (t) => { await t.command('mprotect 0 64 ro'); await t.command('mprotect 0 64 rw'); return { truth: await t.write('write 40'), regions: ['main'] }; } },
  { name: 'fork, then the parent writes (copy-on-write)', expected: 'the written page', exact: true, args: ['--pages', '64', '--populate'],
    drive: async (t) => ({ truth: await t.write('fork-write 12'), regions: ['main'] }) },
  { name: 'transparent huge page, write 1 byte', expected: 'all 512 pages of the 2 MiB page', exact: false, args: ['--pages', '1024', '--thp', '--populate'],
    drive: async (t) => ({ truth: await t.write('write 700'), regions: ['main'] }) },
  { name: 'mremap (grow and move) of 64 populated pages, no write', expected: 'every moved page dirty', exact: false, args: ['--pages', '64', '--populate'],
    drive: async (t) => { await t.command('mmap blocker 1'); await t.command('mremap 4096'); return { truth: none, regions: ['main'] }; } },
  { name: 'populated, then MADV_DONTNEED of 10 pages', expected: 'content changed (zero-filled), soft-dirty may not show it', exact: false, args: ['--pages', '64', '--populate'],
    drive: async (t) => { await t.command('dontneed 0 10'); return { truth: none, regions: ['main'], note: 'no store: the truth is empty, although 10 pages now read as zero' }; } },
];

/** Run one scenario with one backend: clear, drive, scan; compare within the scenario's regions. */
export async function runScenario(s: Scenario, backendName: BackendName): Promise<ScenarioOutcome> {
  const t = await Target.spawn('scenario', s.args);
  const backend = openBackend(t.pid, backendName);
  try {
    backend.clear();
    const { truth, regions, note } = await s.drive(t, () => backend.scan());
    const scan = backend.scan();
    const raw = backendName === 'uffd-wp' ? undefined : backend.scan({ includeUnpopulated: true });
    const within = (sc: ScanResult) => {
      const out = new Set<number>();
      for (const name of regions) {
        const r = t.region(name);
        for (const p of detectedIn(sc, r.startPage, r.startPage + r.pages)) out.add(p);
      }
      return out;
    };
    return { acc: accuracy(truth, within(scan)), rawDetected: raw ? within(raw).size : undefined, note };
  } finally {
    backend.close();
    await t.exit();
  }
}
