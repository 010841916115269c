import { describe, expect, it } from 'vitest';
import { runCase } from '../../experiments/live-migration.js';

// One real QEMU→QEMU migration of a lab guest (booted under TCG, ~30 s): dirtytrack's prediction,
// made on the running guest, against what QEMU then does. The full grid is `npm run experiment -- live-migration`.
describe('pre-copy prediction against a real QEMU migration', () => {
  it('predicts convergence, and the bytes QEMU sends within 25 %', async () => {
    const r = await runCase({ label: 'test', rate: 2000, pages: 8192, bandwidthMiBs: 64 });
    expect(r.observed.truthPagesPerSec).toBeGreaterThan(1500); // the guest's writer ran
    expect(r.actual.status).toBe('completed');
    expect(r.predicted.converges).toBe(true);
    expect(r.predicted.transferredBytes / r.actual.transferredBytes).toBeGreaterThan(0.75);
    expect(r.predicted.transferredBytes / r.actual.transferredBytes).toBeLessThan(1.25);
  }, 300_000);
});
