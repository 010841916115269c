// A process group against the truth each process reports: per process and the deduplicated total,
// phase by phase, through a fork, an exit and an exec; once per working backend (natively uffd-wp,
// in the lab soft-dirty and pagemap-scan).
import { describe, expect, it } from 'vitest';
import { runGroup, type GroupPhase } from '../../experiments/lib/group-run.js';
import { Family } from '../../experiments/lib/family.js';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGroup } from '../../src/targets/group.js';
import { treeSource } from '../../src/targets/tree.js';
import { workingBackends } from './backends.js';
import { uffdDescriptors } from '../helpers/userfaultfds.js';

const FAMILY = ['--pages', '512', '--count', '40', '--shared-pages', '128', '--shared-count', '30', '--children', '2', '--seed', '7'];

function expectExact(p: GroupPhase) {
  for (const proc of p.processes) {
    expect(proc.acc.written, `phase ${p.phase} pid ${proc.pid} wrote`).toBeGreaterThan(0);
    expect({ phase: p.phase, pid: proc.pid, recall: proc.acc.recall, precision: proc.acc.precision }).toEqual({ phase: p.phase, pid: proc.pid, recall: 1, precision: 1 });
  }
  expect({ phase: p.phase, recall: p.total.recall, precision: p.total.precision }).toEqual({ phase: p.phase, recall: 1, precision: 1 });
  expect(p.sharedPagesMerged).toBe(p.sharedTruthMerged);
}

for (const backend of workingBackends()) {
  describe(`a process tree with ${backend}`, () => {
    it('per process and deduplicated total exact through a fork, an exit and an exec; shared pages merged as written', async () => {
      const run = await runGroup({
        backend, family: FAMILY, phases: 6, source: treeSource,
        churn: { 3: { op: 'fork' }, 4: { op: 'exit', child: 0 }, 5: { op: 'exec', child: 1 } },
      });
      expect(run.backend).toBe(backend);
      for (const p of run.phases) expectExact(p);
      // power: the runs must have exercised what they claim
      expect(run.phases.reduce((a, p) => a + p.sharedTruthMerged, 0)).toBeGreaterThan(5);
      expect(run.phases[2].born).toHaveLength(1); // forked while tracked: a uffd-wp child inherits its parent's descriptor
      expect(run.phases[2].processes).toHaveLength(4);
      expect(run.phases[3].gone).toHaveLength(1);
      expect(run.phases[3].processes).toHaveLength(3);
      expect(run.phases[4].processes.find((p) => p.acc.written >= 512)).toBeDefined(); // the exec'd image, populated anew
      expect(run.phases.every((p) => p.skipped === 0)).toBe(true);
    });

    it('a MAP_SHARED file written through two processes: its pages once in the total (soft-dirty); uffd-wp says it cannot see them', async () => {
      const file = join(tmpdir(), `dirtytrack-family-${process.pid}-${backend}`);
      try {
        if (backend !== 'uffd-wp') {
          const run = await runGroup({ backend, family: [...FAMILY, '--shared-file', file], phases: 3, source: treeSource });
          for (const p of run.phases) expectExact(p);
          expect(run.phases.reduce((a, p) => a + p.sharedTruthMerged, 0)).toBeGreaterThan(5);
          return;
        }
        // uffd-wp registers no shared file mapping (its pages live in the page cache): skipped, with the reason.
        const family = await Family.spawn([...FAMILY, '--shared-file', file]);
        try {
          const group = openGroup(treeSource(family.pid), backend, true);
          try {
            await family.write();
            const start = family.root.region('shm').start;
            for (const s of group.scan({ reset: true }).scans) {
              expect(s.regions.some((r) => r.region.start === start)).toBe(false);
              expect(s.skipped.find((x) => x.region.start === start)?.reason).toMatch(/shared file mapping/);
            }
          } finally {
            group.close();
          }
        } finally {
          await family.exit();
        }
      } finally {
        rmSync(file, { force: true });
      }
    });

    it('close() leaves nothing armed in any member', async () => {
      const family = await Family.spawn(FAMILY);
      try {
        const group = openGroup(treeSource(family.pid), backend, true);
        expect(group.tracked()).toHaveLength(3);
        await family.write();
        group.scan({ reset: true });
        group.close();
        for (const pid of family.procs) expect(uffdDescriptors(pid, { allowGone: true }), `userfaultfds left in ${pid}`).toEqual([]);
      } finally {
        await family.exit();
      }
    });
  });
}
