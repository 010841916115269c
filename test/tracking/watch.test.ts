// watch against free-running targets whose truth is their own write log; once per working backend.
import { describe, expect, it } from 'vitest';
import { watchRateWriter } from '../../experiments/lib/watched-run.js';
import { Target } from '../../experiments/lib/target.js';
import { dirtytrackProcess } from '../helpers/cli.js';
import { expectedBackends, workingBackends } from './backends.js';

const backends = workingBackends();

it('every backend this kernel must support works here', () => {
  expect(backends).toEqual(expect.arrayContaining(expectedBackends()));
});

for (const backend of backends) {
  describe(`watch with ${backend}`, () => {
    it('no write is lost: every write the log records appears in a round that must hold it', async () => {
      const run = await watchRateWriter(['--pages', '4096', '--rate', '50000', '--seed', '3'], { backend, intervalMs: 50, maxRounds: 10, tolerance: 0 });
      expect(run.summary.reason).toBe('max-rounds');
      expect(run.alignment!.checked).toBeGreaterThan(1000);
      expect(run.alignment!.lost).toBe(0);
    });

    // rate-writer paces writes by the clock and catches up after a freeze, so over a round it writes
    // rate × the wall time between two resets (the period), not only while it ran.
    it('uniform writes converge, to within 10 % of min(rate × interval, W)', async () => {
      const rate = 5000, W = 2048;
      const run = await watchRateWriter(['--pages', String(W), '--rate', String(rate), '--seed', '5'], { backend, intervalMs: 200, tolerance: 0.1, stable: 3, maxRounds: 40 });
      expect(run.summary.reason).toBe('converged');
      // The steady count: the mean over the window the stop rule judged (the last stable + 1 rounds).
      const last = run.rounds.slice(-4);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const steady = mean(last.map((r) => r.detectedInRegion));
      const expected = mean(last.map((r) => Math.min((rate * r.periodMs) / 1000, W)));
      expect(Math.abs(steady - expected) / expected).toBeLessThan(0.1);
    });

    it('a growing heap never converges: it ends on max-rounds', async () => {
      const run = await watchRateWriter(['--pages', '1048576', '--rate', '4000', '--pattern', 'grow'], { backend, intervalMs: 100, maxRounds: 8 });
      expect(run.summary.reason).toBe('max-rounds');
      expect(run.rounds).toHaveLength(8);
      expect(run.summary.workingSetPages).toBeGreaterThan(run.rounds[0].dirtyPages * 4);
    });

    it('a target that exits mid-watch ends it with reason exited and a summary of the rounds so far', async () => {
      const run = await watchRateWriter(['--pages', '1024', '--rate', '1000'], { backend, intervalMs: 100, maxRounds: 50 }, (r, target) => {
        if (r.round === 3) target.kill();
      });
      expect(run.summary.reason).toBe('exited');
      expect(run.summary.rounds).toBeGreaterThanOrEqual(3);
      expect(run.rounds.length).toBe(run.summary.rounds);
    });

    it('SIGINT ends `dirtytrack watch` with reason interrupted, the rounds so far flushed, exit 130', async () => {
      const target = await Target.spawn('rate-writer', ['--pages', '1024', '--rate', '2000']);
      try {
        await target.command('start');
        const cli = dirtytrackProcess(['watch', String(target.pid), '--json', '--interval', '100ms', '--max-rounds', '1000', '--backend', backend]);
        let seen = 0;
        cli.stdout!.on('data', (d: Buffer) => {
          seen += (d.toString().match(/"round":/g) ?? []).length;
          if (seen >= 3 && !cli.killed) cli.kill('SIGINT');
        });
        const r = await cli;
        expect(r.exitCode).toBe(130);
        const lines = String(r.stdout).trim().split('\n').map((l) => JSON.parse(l));
        const done = lines.at(-1);
        expect(done).toMatchObject({ done: true, reason: 'interrupted', backend });
        expect(done.rounds).toBeGreaterThanOrEqual(3);
        expect(lines.filter((l) => 'round' in l)).toHaveLength(done.rounds);
        // The target survives the tracker and is not left stopped.
        expect((await target.command('status')).running).toBe(true);
      } finally {
        await target.exit();
      }
    });
  });
}
