import { describe, expect, it } from 'vitest';
import { estimatePrecopy, QEMU_DEFAULTS } from '../../src/watch/precopy.js';

const MiB = 2 ** 20;

describe('pre-copy estimate: the classic model', () => {
  it('converges when the dirty rate is well below bandwidth, in the geometric number of rounds', () => {
    // 1 GiB at 100 MiB/s with 10 MiB/s dirtied: each round is a tenth of the last.
    const e = estimatePrecopy({ residentBytes: 1024 * MiB, dirtyBytesPerSec: 10 * MiB, workingSetBytes: 512 * MiB, bandwidthBytesPerSec: 100 * MiB, maxDowntimeMs: 300 });
    expect(e.converges).toBe(true);
    // 1024 → 102.4 → 10.24 MiB; 10.24 MiB at 100 MiB/s = 102 ms ≤ 300 ms.
    expect(e.rounds).toBe(2);
    expect(e.finalBytes).toBeCloseTo(10.24 * MiB, 0);
    expect(e.downtimeMs).toBeCloseTo(102.4, 1);
    // 10.24 s + 1.024 s + 0.1024 s; 1024 + 102.4 + 10.24 MiB.
    expect(e.totalSeconds).toBeCloseTo(11.3664, 4);
    expect(e.transferredBytes / MiB).toBeCloseTo(1136.64, 2);
    expect(e.roundBytes.map((b) => b / MiB)).toEqual([1024, expect.closeTo(102.4, 6)]);
  });

  it('does not converge when the rounds stop shrinking above the budget: the working set is left', () => {
    // 1024 MiB in 10.24 s dirties min(2048, 256) = 256 MiB; 256 MiB in 2.56 s dirties 256 MiB again: steady.
    const e = estimatePrecopy({ residentBytes: 1024 * MiB, dirtyBytesPerSec: 200 * MiB, workingSetBytes: 256 * MiB, bandwidthBytesPerSec: 100 * MiB, maxDowntimeMs: 300 });
    expect(e.converges).toBe(false);
    expect(e.rounds).toBe(2);
    expect(e.finalBytes).toBe(256 * MiB);
    expect(e.downtimeMs).toBeCloseTo(2560);
    expect(e.expectedDowntimeMs).toBeCloseTo(2560);
    expect(e.totalSeconds).toBeCloseTo(10.24 + 2.56 + 2.56);
    expect(e.transferredBytes).toBe((1024 + 256 + 256) * MiB);
  });

  it('converges above bandwidth when the working set fits the budget', () => {
    // 100 MiB in 1 s dirties min(200, 10) MiB; 10 MiB ≤ 30 MiB budget.
    const e = estimatePrecopy({ residentBytes: 100 * MiB, dirtyBytesPerSec: 200 * MiB, workingSetBytes: 10 * MiB, bandwidthBytesPerSec: 100 * MiB, maxDowntimeMs: 300 });
    expect(e).toMatchObject({ converges: true, rounds: 1, finalBytes: 10 * MiB });
    expect(e.downtimeMs).toBeCloseTo(100);
  });

  it('gives up after maxRounds when one is set', () => {
    const e = estimatePrecopy({ residentBytes: 1024 * MiB, dirtyBytesPerSec: 99 * MiB, workingSetBytes: 1024 * MiB, bandwidthBytesPerSec: 100 * MiB, maxDowntimeMs: 300, maxRounds: 5 });
    expect(e.converges).toBe(false);
    expect(e.rounds).toBe(5);
    expect(e.finalBytes).toBeCloseTo(1024 * MiB * 0.99 ** 5, 0);
  });

  it('no pre-copy round when everything fits the downtime budget', () => {
    const e = estimatePrecopy({ residentBytes: 10 * MiB, dirtyBytesPerSec: MiB, workingSetBytes: MiB, bandwidthBytesPerSec: 100 * MiB, maxDowntimeMs: 300 });
    expect(e.rounds).toBe(0);
    expect(e.converges).toBe(true);
    expect(e.transferredBytes).toBe(10 * MiB);
  });
});

describe('pre-copy estimate: what a hypervisor sends', () => {
  // 1,000 normal and 9,000 zero pages of guest RAM; a normal page on the wire (4096 + 8 bytes) takes
  // 1 ms at 4,104,000 B/s; 100 pages/s dirtied; 50 ms budget = 205,200 B ≈ 50.1 pages.
  const vm = {
    residentBytes: 0, round0: { normalPages: 1000, zeroPages: 9000 }, dirtyBytesPerSec: 100 * 4096, workingSetBytes: 10000 * 4096,
    bandwidthBytesPerSec: 4_104_000, maxDowntimeMs: 50, pageHeaderBytes: QEMU_DEFAULTS.pageHeaderBytes, zeroPageBytes: QEMU_DEFAULTS.zeroPageBytes,
  };

  it('round 0 costs normal pages with their header and zero pages 9 bytes; later rounds what was dirtied meanwhile', () => {
    const e = estimatePrecopy(vm);
    // Round 0: 1000 × 4104 + 9000 × 9 = 4,185,000 B in 1.019737 s → 101.97 pages dirtied.
    // Round 1: 101.97 × 4104 = 418,500 B in 0.101974 s → 10.197 pages = 41,768.4 B ≤ 205,200 B: stop.
    expect(e.converges).toBe(true);
    expect(e.roundBytes).toEqual([4_185_000, expect.closeTo(418_500, 6)]);
    expect(e.finalBytes).toBeCloseTo(41_768.42, 1);
    expect(e.downtimeMs).toBeCloseTo(10.1974, 3);
    expect(e.totalSeconds).toBeCloseTo(1.131908, 5);
    expect(e.transferredBytes).toBeCloseTo(4_645_350, 0);
  });

  it('the stop-and-copy runs at its own bandwidth; expected downtime stays at the pre-copy one', () => {
    const e = estimatePrecopy({ ...vm, stopCopyBandwidthBytesPerSec: 41_040_000 });
    expect(e.downtimeMs).toBeCloseTo(1.01974, 4);
    expect(e.expectedDowntimeMs).toBeCloseTo(10.1974, 3);
    expect(e.rounds).toBe(2);
  });

  it('counting zero pages as normal (the whole-process view) overestimates round 0 tenfold here', () => {
    const asProcess = estimatePrecopy({ ...vm, round0: undefined, residentBytes: 10000 * 4096 });
    expect(asProcess.roundBytes[0]).toBe(10000 * 4104);
    expect(asProcess.roundBytes[0]! / estimatePrecopy(vm).roundBytes[0]!).toBeCloseTo(9.807, 2);
  });
});
