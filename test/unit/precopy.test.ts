import { describe, expect, it } from 'vitest';
import { estimatePrecopy, QEMU_DEFAULTS } from '../../src/watch/precopy.js';

// Small numbers so every step can be followed by hand: bandwidth 100 B/s, steps of 0.1 s (10 B),
// downtime budget 500 ms → threshold 50 B; pageSize 1 and no headers unless said.
const base = { residentBytes: 1000, dirtyBytesPerSec: 10, workingSetBytes: 1e9, bandwidthBytesPerSec: 100, maxDowntimeMs: 500, pageSize: 1 };

describe('pre-copy estimate, stepped as QEMU runs it', () => {
  it('converges: syncs start below the threshold, and the final bytes sit just under it', () => {
    // Round 0: 96 steps leave 40 B < 50 at t = 9.6 s → sync adds 96 B dirtied: 136.
    // 9 steps leave 46 → sync adds 9 (0.9 s): 55 ≥ 50 → 1 step leaves 45 → sync adds 1: 46 < 50 → stop.
    const e = estimatePrecopy(base);
    expect(e.converges).toBe(true);
    expect(e.rounds).toBe(3);
    expect(e.dirtySyncs).toBe(5); // setup + 3 + completion
    expect(e.finalBytes).toBeCloseTo(46, 9);
    expect(e.downtimeMs).toBeCloseTo(460, 6);
    expect(e.totalSeconds).toBeCloseTo(10.6 + 0.46, 9);
    expect(e.transferredBytes).toBeCloseTo(1060 + 46, 9);
  });

  it('never converges when what is left after a sync stops shrinking', () => {
    // Rate 150 B/s over a 300 B working set. Round 0 as above → 40 + 300 = 340; 30 steps leave 40 → + 300 = 340 again.
    const e = estimatePrecopy({ ...base, dirtyBytesPerSec: 150, workingSetBytes: 300 });
    expect(e.converges).toBe(false);
    expect(e.rounds).toBe(2);
    expect(e.finalBytes).toBe(340);
    expect(e.expectedDowntimeMs).toBeCloseTo(3400, 9);
    expect(e.totalSeconds).toBeCloseTo(9.6 + 3.0 + 3.4, 9);
    expect(e.transferredBytes).toBeCloseTo(960 + 300 + 340, 9);
  });

  it('converges with a rate above bandwidth when the working set fits under the threshold', () => {
    // 150 B/s over a 20 B working set: round 0 leaves 40, + 20 = 60; two steps leave 40, + 20 = 60 again:
    // a steady state just above the threshold does not converge.
    expect(estimatePrecopy({ ...base, dirtyBytesPerSec: 150, workingSetBytes: 20 }).converges).toBe(false);
    // Over a 5 B working set: 40 + 5 = 45 < 50 at the first sync.
    const e = estimatePrecopy({ ...base, dirtyBytesPerSec: 150, workingSetBytes: 5 });
    expect(e).toMatchObject({ converges: true, rounds: 1, finalBytes: 45 });
  });

  it('everything under the threshold at once: no pre-copy pass, all of it in the stop-and-copy', () => {
    const e = estimatePrecopy({ ...base, residentBytes: 40 });
    expect(e).toMatchObject({ converges: true, rounds: 0, dirtySyncs: 3, finalBytes: 40, transferredBytes: 40 });
    expect(e.totalSeconds).toBeCloseTo(0.4, 9);
  });

  it('the stop-and-copy runs at its own bandwidth; the expected downtime stays at the pre-copy one', () => {
    const e = estimatePrecopy({ ...base, stopCopyBandwidthBytesPerSec: 1000 });
    expect(e.downtimeMs).toBeCloseTo(46, 6);
    expect(e.expectedDowntimeMs).toBeCloseTo(460, 6);
  });

  it('a measured curve of distinct bytes against time replaces rate × time', () => {
    // The curve says 5 B whatever the interval: round 0 leaves 40, + 5 = 45 < 50.
    expect(estimatePrecopy({ ...base, dirtiedBytes: () => 5 })).toMatchObject({ converges: true, rounds: 1, finalBytes: 45 });
  });

  it('refuses to loop when there is nothing to send and no budget', () => {
    expect(estimatePrecopy({ ...base, maxDowntimeMs: 0, residentBytes: 0 }).converges).toBe(false);
  });
});

describe('pre-copy estimate: what a hypervisor sends', () => {
  // 100 normal and 900 zero pages of 4 KiB; a normal page on the wire (4096 + 8 B) is one step at
  // 41,040 B/s; 1 page/s dirtied; 500 ms → threshold 20,520 B (5.01 pages).
  const vm = {
    residentBytes: 0, round0: { normalPages: 100, zeroPages: 900 }, dirtyBytesPerSec: 4096, workingSetBytes: 1e9,
    bandwidthBytesPerSec: 41_040, maxDowntimeMs: 500, pageHeaderBytes: QEMU_DEFAULTS.pageHeaderBytes, zeroPageBytes: QEMU_DEFAULTS.zeroPageBytes,
  };

  it('round 0 costs normal pages with their header and zero pages 9 bytes', () => {
    // Round 0: 100 × 4104 + 900 × 9 = 418,500 B on the wire in 10.19734 s (101 full steps and a 0.09734 s one).
    // Sync: 10.19734 pages dirtied = 41,768 B; 6 one-page steps leave 17,192 B; sync adds 0.6 pages: 19,650 B < 20,520.
    const e = estimatePrecopy(vm);
    expect(e).toMatchObject({ converges: true, rounds: 2, dirtySyncs: 4 });
    expect(e.finalBytes).toBeCloseTo(19_650.02, 1);
    expect(e.totalSeconds).toBeCloseTo(10.79737 + 19_688.4 / 41_040, 4);
    expect(e.transferredBytes).toBeCloseTo(418_500 + 6 * 4104 + 19_688.4, 0);
  });

  it('counting zero pages as normal (the whole-process view) sends ten times as much in round 0 here', () => {
    const asProcess = estimatePrecopy({ ...vm, round0: undefined, residentBytes: 1000 * 4096 });
    expect(asProcess.transferredBytes / estimatePrecopy(vm).transferredBytes).toBeGreaterThan(8.8);
  });
});
