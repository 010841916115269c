import { describe, expect, it } from 'vitest';
import { estimatePrecopy } from '../../src/watch/precopy.js';

const MiB = 2 ** 20;

describe('pre-copy estimate', () => {
  it('converges when the dirty rate is well below bandwidth, in the geometric number of rounds', () => {
    // 1 GiB at 100 MiB/s with 10 MiB/s dirtied: each round is a tenth of the last.
    const e = estimatePrecopy({ residentBytes: 1024 * MiB, dirtyBytesPerSec: 10 * MiB, workingSetBytes: 512 * MiB, bandwidthBytesPerSec: 100 * MiB, maxDowntimeMs: 300 });
    expect(e.converges).toBe(true);
    // 1024 → 102.4 → 10.24 MiB; 10.24 MiB at 100 MiB/s = 102 ms ≤ 300 ms.
    expect(e.rounds).toBe(2);
    expect(e.finalBytes).toBeCloseTo(10.24 * MiB, 0);
    expect(e.downtimeMs).toBeCloseTo(102.4, 1);
  });
  it('does not converge when the dirty rate exceeds bandwidth: the working set is left for stop-and-copy', () => {
    const e = estimatePrecopy({ residentBytes: 1024 * MiB, dirtyBytesPerSec: 200 * MiB, workingSetBytes: 256 * MiB, bandwidthBytesPerSec: 100 * MiB, maxDowntimeMs: 300 });
    expect(e.converges).toBe(false);
    expect(e.rounds).toBe(30);
    expect(e.finalBytes).toBe(256 * MiB);
    expect(e.downtimeMs).toBeCloseTo(2560);
  });
  it('no pre-copy round when everything fits the downtime budget', () => {
    const e = estimatePrecopy({ residentBytes: 10 * MiB, dirtyBytesPerSec: MiB, workingSetBytes: MiB, bandwidthBytesPerSec: 100 * MiB, maxDowntimeMs: 300 });
    expect(e.rounds).toBe(0);
    expect(e.converges).toBe(true);
  });
});
