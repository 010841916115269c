import { describe, expect, it } from 'vitest';
import { clipRanges, coalesce, countIntersection, countPages, intersectRanges, mergeRanges, pageSet, RangeBuilder, runsToRanges } from '../../src/ranges.js';
import type { PageRange } from '../../src/types.js';

// Deterministic PRNG so property-style cases are reproducible.
function rng(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
}

describe('coalesce', () => {
  it('merges contiguous pages into half-open ranges, in any order, ignoring duplicates', () => {
    expect(coalesce([5, 1, 2, 3, 9, 2, 10])).toEqual([[1, 4], [5, 6], [9, 11]]);
    expect(coalesce([])).toEqual([]);
  });
  it('round-trips random page sets', () => {
    const r = rng(7);
    for (let t = 0; t < 200; t++) {
      const pages = new Set<number>();
      for (let i = 0; i < 50; i++) pages.add(Math.floor(r() * 100));
      const ranges = coalesce(pages);
      expect(pageSet(ranges)).toEqual(pages);
      expect(countPages(ranges)).toBe(pages.size);
      for (let i = 1; i < ranges.length; i++) expect(ranges[i][0]).toBeGreaterThan(ranges[i - 1][1]);
    }
  });
});

describe('RangeBuilder', () => {
  it('extends the last range when pages touch, counts each page once', () => {
    const b = new RangeBuilder();
    b.add(1, 3); b.add(3, 5); b.add(4, 6); b.add(8); b.add(9);
    expect(runsToRanges(b.runs())).toEqual([[1, 6], [8, 10]]);
    expect(b.count).toBe(7);
  });
});

describe('mergeRanges / intersections', () => {
  it('merges overlapping and touching ranges and drops empty ones', () => {
    expect(mergeRanges([[5, 7], [1, 3], [3, 4], [6, 9], [10, 10]])).toEqual([[1, 4], [5, 9]]);
  });
  it('intersections agree with set arithmetic on random inputs', () => {
    const r = rng(11);
    const random = (): PageRange[] => mergeRanges(Array.from({ length: 10 }, () => { const s = Math.floor(r() * 200); return [s, s + 1 + Math.floor(r() * 20)] as PageRange; }));
    for (let t = 0; t < 200; t++) {
      const a = random(), b = random();
      const sa = pageSet(a), sb = pageSet(b);
      const both = [...sa].filter((p) => sb.has(p));
      expect(countIntersection(a, b)).toBe(both.length);
      expect(pageSet(intersectRanges(a, b))).toEqual(new Set(both));
      expect(pageSet(clipRanges(a, 50, 150))).toEqual(new Set([...sa].filter((p) => p >= 50 && p < 150)));
    }
  });
});
