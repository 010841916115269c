import { describe, expect, it } from 'vitest';
import { anotherPreDump } from '../../experiments/lib/criu.js';

const rule = { minPages: 1000, shrink: 0.9, maxPreDumps: 4 };

describe('the CRIU pre-copy driver rule (experiments/criu-precopy)', () => {
  it('goes on after the first pre-dump when it wrote enough', () => {
    expect(anotherPreDump(rule, [12_000])).toBe(true);
    expect(anotherPreDump(rule, [999])).toBe(false);
  });
  it('goes on only while each pre-dump writes at most 90 % of the one before', () => {
    expect(anotherPreDump(rule, [12_000, 9_000])).toBe(true); // 75 %
    expect(anotherPreDump(rule, [10_000, 9_000])).toBe(true); // exactly 90 %
    expect(anotherPreDump(rule, [10_000, 9_001])).toBe(false);
    expect(anotherPreDump(rule, [5_000, 6_000])).toBe(false); // grew
  });
  it('stops under minPages even when shrinking, and at maxPreDumps', () => {
    expect(anotherPreDump(rule, [12_000, 5_000, 999])).toBe(false);
    expect(anotherPreDump(rule, [12_000, 8_000, 4_000, 2_000])).toBe(false);
    expect(anotherPreDump(rule, [12_000, 8_000, 4_000])).toBe(true);
  });
});
