// Issue 9 §5, once per working backend (soft-dirty and pagemap-scan in the lab guests, where
// `watch` freezes by default): a process the user stopped is tracked as it is and stays stopped.
import { afterEach, describe, expect, it } from 'vitest';
import { Target } from '../../experiments/lib/target.js';
import { detectedIn } from '../../experiments/lib/metrics.js';
import { openBackend } from '../../src/backends/select.js';
import { freeze, thaw } from '../../src/proc/freeze.js';
import { dirtytrack } from '../helpers/cli.js';
import { processState, sleep } from '../native/helpers.js';
import { workingBackends } from './backends.js';

const targets: Target[] = [];
afterEach(async () => {
  for (const t of targets.splice(0)) {
    try {
      process.kill(t.pid, 'SIGCONT');
    } catch {
      // gone
    }
    await t.exit();
  }
});

for (const backendName of workingBackends()) {
  describe(`a stopped process, ${backendName}`, () => {
    it('its writes before the stop are scanned exactly; freeze/thaw and watch --freeze leave it stopped', async () => {
      const t = await Target.spawn('stride-writer', ['--pages', '512', '--stride', '5']);
      targets.push(t);
      const region = t.region();
      const backend = openBackend(t.pid, backendName);
      let truth: Set<number>;
      try {
        backend.clear();
        truth = await t.write();
        process.kill(t.pid, 'SIGSTOP');
        for (let i = 0; i < 400 && processState(t.pid) !== 'T'; i++) await sleep(5);
        expect(processState(t.pid)).toBe('T');
        expect(freeze(t.pid)).toBe(false); // found stopped: nothing to do
        const scan = backend.scan({ reset: true });
        thaw(t.pid);
        expect(detectedIn(scan, region.startPage, region.startPage + region.pages)).toEqual(truth);
      } finally {
        backend.close();
      }
      await sleep(50);
      expect(processState(t.pid)).toBe('T');

      const r = await dirtytrack('watch', String(t.pid), '--backend', backendName, '--freeze', '--max-rounds', '2', '--interval', '50ms', '--json');
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      const summary = lines.at(-1);
      expect(summary.freeze).toBe(true);
      expect(lines.length).toBeGreaterThanOrEqual(2);
      for (const round of lines.slice(0, -1)) expect(round.dirtyPages).toBe(0); // stopped: it wrote nothing
      await sleep(50);
      expect(processState(t.pid)).toBe('T'); // not resumed by the watch

      process.kill(t.pid, 'SIGCONT');
      expect((await t.write()).size).toBeGreaterThan(0);
    });
  });
}
