import { describe, expect, it } from 'vitest';
import { alignWrites } from '../../experiments/lib/align.js';

// Writes 0..n-1 go to page = index (distinct pages), unless a map is given.
const pagesOf = (log: number[]) => (from: number, to: number) => log.slice(from, to);
const seq = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('alignWrites', () => {
  it('frozen rounds: every write in its own window, none lost', () => {
    const log = seq(30);
    const b = [{ before: 0, after: 0 }, { before: 10, after: 10 }, { before: 20, after: 20 }, { before: 30, after: 30 }];
    // Write 0 may have landed during the first clear: unchecked. Write 10 may be in flight at freeze 1.
    const detected = [new Set<number>(), new Set(seq(11).slice(1)), new Set(seq(21).slice(11)), new Set(seq(30).slice(21))];
    expect(alignWrites(b, pagesOf(log), detected)).toEqual({ lost: 0, checked: 29, certain: [0, 9, 9, 9] });
  });
  it('counts a write missing from every round that could hold it as lost', () => {
    const log = seq(20);
    const b = [{ before: 0, after: 0 }, { before: 10, after: 10 }, { before: 20, after: 20 }];
    const detected = [new Set<number>(), new Set([1, 2, 3, 4, 5, 6, 7, 8, 9]), new Set([10, 11, 12, 14, 15, 16, 17, 18, 19])];
    expect(alignWrites(b, pagesOf(log), detected).lost).toBe(1); // write 13
  });
  it('a write in flight during an unfrozen reset may show up in either neighbouring round', () => {
    const log = seq(20);
    const b = [{ before: 0, after: 0 }, { before: 8, after: 12 }, { before: 20, after: 20 }];
    const detected = [new Set<number>(), new Set([1, 2, 3, 4, 5, 6, 7, 8, 9]), new Set([10, 11, 12, 13, 14, 15, 16, 17, 18, 19])];
    expect(alignWrites(b, pagesOf(log), detected)).toMatchObject({ lost: 0, checked: 19 });
    // …but a write completed before reset 1 began (index 5) must be in round 1.
    detected[1].delete(5);
    expect(alignWrites(b, pagesOf(log), detected).lost).toBe(1);
  });
  it('rewrites of a page need the page in each window that holds one of its writes', () => {
    const log = [0, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7]; // page 7 rewritten
    const b = [{ before: 0, after: 0 }, { before: 5, after: 5 }, { before: 11, after: 11 }];
    expect(alignWrites(b, pagesOf(log), [new Set(), new Set([7]), new Set([7])]).lost).toBe(0);
    expect(alignWrites(b, pagesOf(log), [new Set(), new Set([7]), new Set()]).lost).toBe(5);
  });
});
