// The exporter's rounds (src/serve/tracker.ts, what its scan worker runs) against a rate-writer's own
// log, once per working backend: in the lab this covers the soft-dirty backends and their freeze.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Target } from '../../experiments/lib/target.js';
import { TruthLog } from '../../experiments/lib/truth-log.js';
import { Fleet } from '../../src/serve/tracker.js';
import type { TargetReport } from '../../src/serve/messages.js';
import { workingBackends } from './backends.js';
import { uffdDescriptors } from '../helpers/userfaultfds.js';

const holdsUffd = (pid: number) => uffdDescriptors(pid).length > 0;
const RATE = 5000, PAGES = 8192, INTERVAL_MS = 200, ROUNDS = 8; // a round writes RATE / 5 distinct pages

for (const backend of workingBackends()) {
  describe(`serve rounds with ${backend}`, () => {
    it('the pages a fleet reports over its rounds are the writes the log records, within 10 %; close leaves nothing armed', async () => {
      const t = await Target.spawn('rate-writer', ['--pages', String(PAGES), '--rate', String(RATE), '--seed', '9']);
      const truth = new TruthLog(t.pid, BigInt(t.ready.counter as string));
      const fleet = new Fleet({ targets: [{ kind: 'pid', pid: t.pid }], intervalMs: INTERVAL_MS, backend, windowRounds: 4, exclude: [], downtimeMs: 300, bandwidthBytesPerSec: 2 ** 30 });
      try {
        await t.command('start');
        expect(fleet.round().map((r) => r.kind)).toEqual(['armed']);
        const c0 = truth.count();
        const rounds: Array<Extract<TargetReport, { kind: 'round' }>> = [];
        for (let i = 0; i < ROUNDS; i++) {
          await delay(INTERVAL_MS);
          const [r] = fleet.round();
          if (r.kind !== 'round') throw new Error(`expected a round, got ${JSON.stringify(r)}`);
          rounds.push(r);
        }
        const c1 = truth.count();
        const reported = rounds.reduce((a, r) => a + r.dirtyPages, 0); // the whole process: log, stack and libc pages too
        expect(Math.abs(reported - (c1 - c0)) / (c1 - c0)).toBeLessThan(0.1);
        expect(rounds.every((r) => r.labels.backend === backend && r.precopy?.converges === true)).toBe(true);
        expect(rounds.at(-1)!.workingSetPages).toBeGreaterThanOrEqual(rounds.at(-1)!.dirtyPages);
        const paused = rounds.reduce((a, r) => a + r.pauseSeconds, 0);
        if (backend === 'uffd-wp') expect(paused).toBe(0);
        else expect(paused).toBeGreaterThan(0); // frozen for each scan-and-clear, as watch does
      } finally {
        expect(fleet.close()).toEqual([]);
        truth.close();
      }
      expect(holdsUffd(t.pid)).toBe(false);
      expect((await t.command('status')).running).toBe(true);
      await t.exit();
    });
  });
}

for (const backend of workingBackends()) {
  it(`serve rounds with ${backend}: a target that calls execve is tracked on in its new program, no error counted`, async () => {
    const sh = spawn('sh', ['-c', 'read x; exec sleep 30'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const fleet = new Fleet({ targets: [{ kind: 'pid', pid: sh.pid! }], intervalMs: 50, backend, windowRounds: 4, exclude: [], downtimeMs: 300 });
    try {
      expect(fleet.round().map((r) => r.kind)).toEqual(['armed']);
      expect(fleet.round().map((r) => r.kind)).toEqual(['round']);
      sh.stdin!.write('go\n');
      const kinds: string[] = [];
      for (let i = 0; i < 100 && readFileSync(`/proc/${sh.pid}/comm`, 'utf8').trim() !== 'sleep'; i++) await delay(20);
      for (let i = 0; i < 3; i++) for (const r of fleet.round()) { kinds.push(r.kind); if (r.kind !== 'error') expect(r.labels.pid).toBe(sh.pid); }
      expect(kinds).not.toContain('error');
      expect(kinds).not.toContain('gone');
      expect(kinds.at(-1)).toBe('round');
    } finally {
      expect(fleet.close()).toEqual([]);
    }
    expect(holdsUffd(sh.pid!)).toBe(false);
    sh.kill('SIGKILL');
  });
}
