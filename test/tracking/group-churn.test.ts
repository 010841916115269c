// A watch over a tree whose processes are born, exit and exec all the time: no failure, no negative or
// double counts, nothing left armed in the survivors; once per working backend (the soft-dirty ones
// freeze every member around each scan).
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { watchGroup, type GroupRound } from '../../src/targets/group-source.js';
import { treeSource, treePids } from '../../src/targets/tree.js';
import type { WatchRound } from '../../src/watch/loop.js';
import { workingBackends } from './backends.js';
import { uffdDescriptors } from '../helpers/userfaultfds.js';

// A shell that keeps starting short-lived children, some of which exec (sh -c '…; exec …').
const CHURN = 'while :; do (x=$(seq 1 200); exit 0) & sh -c "true; exec sleep 0.05" & sleep 0.02; wait; done';

for (const backend of workingBackends()) {
  describe(`a churning tree with ${backend}`, () => {
    it('rounds complete with consistent counts while members come, go and exec; nothing left armed', async () => {
      const root = spawn('sh', ['-c', CHURN], { stdio: 'ignore' });
      const rounds: Array<{ r: WatchRound; g: GroupRound }> = [];
      // Power: watch until the tree has churned under tracking (births and exits seen), however slowly
      // this machine attaches; a bounded number of rounds, so a tree that never churns fails below.
      const enough = new AbortController();
      let born = 0, gone = 0;
      try {
        await new Promise((r) => setTimeout(r, 100));
        const { summary, tracker, error } = await watchGroup(treeSource(root.pid!), {
          backend, intervalMs: 40, maxRounds: 300, timeoutMs: 120_000, tolerance: 0, stable: 500, signal: enough.signal,
          onRound: (r, g) => {
            rounds.push({ r, g });
            born += g.change.born.length;
            gone += g.change.gone.length;
            if (born > 5 && gone > 5 && rounds.length >= 10) enough.abort();
          },
        });
        expect(error).toBeUndefined();
        expect(born, 'processes born while watched').toBeGreaterThan(5);
        expect(gone, 'processes gone while watched').toBeGreaterThan(5);
        expect(summary.reason).toBe('interrupted'); // stopped by the power condition, not by a limit
        for (const { r, g } of rounds) {
          expect(r.dirtyPages).toBeGreaterThanOrEqual(0);
          expect(r.newPages).toBeGreaterThanOrEqual(0);
          expect(r.newPages).toBeLessThanOrEqual(r.dirtyPages);
          expect(r.overlapPages).toBeLessThanOrEqual(r.dirtyPages);
          const pids = g.processes.map((p) => p.pid);
          expect(new Set(pids).size).toBe(pids.length); // no process counted twice
          for (const p of g.processes) expect(p.newPages).toBeLessThanOrEqual(p.dirtyPages);
          expect(r.dirtyPages).toBe(g.processes.reduce((a, p) => a + p.dirtyPages, 0) - g.group.sharedPagesMerged);
        }
        expect(tracker.members().filter((m) => m.state === 'tracked').every((m) => m.backend === undefined)).toBe(true); // all closed
        for (const pid of treePids(root.pid!)) expect(uffdDescriptors(pid, { allowGone: true }), `userfaultfds left in ${pid}`).toEqual([]);
      } finally {
        for (const pid of treePids(root.pid!).reverse()) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
    });
  });
}
