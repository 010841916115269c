import { describe, expect, it } from 'vitest';
import { concatRuns, countCommonPages, countRuns, intersectRuns, pageSet, runsToRanges, unionRuns } from '../../src/ranges.js';

const R = (...xs: number[]) => Float64Array.from(xs);
const pages = (r: Float64Array) => pageSet(runsToRanges(r));

describe('run-set operations', () => {
  // [a, b, a ∪ b, a ∩ b]
  const table: Array<[string, Float64Array, Float64Array, Float64Array, Float64Array]> = [
    ['both empty', R(), R(), R(), R()],
    ['one empty', R(1, 3), R(), R(1, 3), R()],
    ['disjoint', R(1, 3), R(5, 7), R(1, 3, 5, 7), R()],
    ['touching merge', R(1, 3), R(3, 5), R(1, 5), R()],
    ['overlapping', R(1, 5), R(3, 8), R(1, 8), R(3, 5)],
    ['nested', R(0, 10), R(2, 4, 6, 8), R(0, 10), R(2, 4, 6, 8)],
    ['interleaved', R(0, 2, 4, 6, 8, 10), R(1, 5, 9, 12), R(0, 6, 8, 12), R(1, 2, 4, 5, 9, 10)],
    ['equal', R(3, 4, 7, 9), R(3, 4, 7, 9), R(3, 4, 7, 9), R(3, 4, 7, 9)],
    ['b spans gaps of a', R(0, 1, 5, 6), R(1, 5), R(0, 6), R()],
    ['page numbers past 2^32', R(2 ** 35, 2 ** 35 + 2), R(2 ** 35 + 1, 2 ** 35 + 3), R(2 ** 35, 2 ** 35 + 3), R(2 ** 35 + 1, 2 ** 35 + 2)],
  ];
  for (const [name, a, b, union, common] of table) {
    it(name, () => {
      expect(unionRuns(a, b)).toEqual(union);
      expect(unionRuns(b, a)).toEqual(union);
      expect(intersectRuns(a, b)).toEqual(common);
      expect(intersectRuns(b, a)).toEqual(common);
      expect(countCommonPages(a, b)).toBe(countRuns(common));
    });
  }

  it('agree with page sets on random lists', () => {
    let seed = 11;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const randomRuns = () => {
      const xs: number[] = [];
      let p = Math.floor(rnd() * 5);
      while (p < 200) {
        const len = 1 + Math.floor(rnd() * 6);
        xs.push(p, p + len);
        p += len + 1 + Math.floor(rnd() * 8);
      }
      return R(...xs);
    };
    let checked = 0;
    for (let t = 0; t < 300; t++) {
      const a = randomRuns(), b = randomRuns();
      const A = pages(a), B = pages(b);
      expect(pages(unionRuns(a, b))).toEqual(new Set([...A, ...B]));
      const both = new Set([...A].filter((p) => B.has(p)));
      expect(pages(intersectRuns(a, b))).toEqual(both);
      expect(countCommonPages(a, b)).toBe(both.size);
      // merged: every run non-empty and apart from the next
      const u = unionRuns(a, b);
      for (let i = 0; i < u.length; i += 2) {
        expect(u[i + 1]).toBeGreaterThan(u[i]);
        if (i + 2 < u.length) expect(u[i + 2]).toBeGreaterThan(u[i + 1]);
      }
      checked += both.size;
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('concatRuns joins regions in order and merges runs that touch across a boundary', () => {
    expect(concatRuns([R(1, 3), R(), R(3, 4, 8, 9), R(10, 12)])).toEqual(R(1, 4, 8, 9, 10, 12));
    expect(concatRuns([])).toEqual(R());
  });
});
