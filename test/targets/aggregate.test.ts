// Group totals: shared pages once by backing object and offset, private pages per process, merges counted.
import { describe, expect, it } from 'vitest';
import { aggregate, keyedSets, sharedKey } from '../../src/targets/aggregate.js';
import { parseMapsLine } from '../../src/proc/maps.js';
import { clipRegion, makeScanResult, regionResult } from '../../src/scan-result.js';
import { countRuns, rangesToRuns } from '../../src/ranges.js';
import type { MapsRegion, PageRange, ScanResult } from '../../src/types.js';

const P = 4096n;
const page = (r: MapsRegion, i: number) => Number(r.start / P) + i;

/** A scan of `pid` that found `pages` (indices within each region) dirty. */
function scanOf(pid: number, dirty: Array<[MapsRegion, number[]]>): ScanResult {
  const regions = dirty.map(([r, idx]) => {
    const ranges = idx.map((i): PageRange => [page(r, i), page(r, i) + 1]);
    const runs = rangesToRuns(ranges);
    return regionResult(r, runs, countRuns(runs));
  });
  return makeScanResult(pid, 'uffd-wp', regions, [], process.hrtime.bigint());
}

// Two processes map memfd inode 4242 at different addresses; the second maps it from file page 16.
const memfdA = parseMapsLine('7f0000000000-7f0000040000 rw-s 00000000 00:01 4242 /memfd:shared (deleted)');
const memfdB = parseMapsLine('7e0000000000-7e0000030000 rw-s 00010000 00:01 4242 /memfd:shared (deleted)');
// The same private heap address in both (after fork): different pages, one per process.
const heapA = parseMapsLine('55e66984b000-55e6699da000 rw-p 00000000 00:00 0 [heap]');
const heapB = heapA;
const privFile = parseMapsLine('7f538a000000-7f538a002000 rw-p 001d4000 fe:00 31 /usr/lib/libc.so.6');

describe('keys', () => {
  it('shared mappings by device and inode; private memory (file-backed too) by process', () => {
    expect(sharedKey(memfdA)).toBe('shm:00:01:4242');
    expect(sharedKey(heapA)).toBeNull();
    expect(sharedKey(privFile)).toBeNull();
    expect(sharedKey(parseMapsLine('7f0000000000-7f0000001000 rw-s 00000000 00:00 0 '))).toBeNull();
  });
  it('shared pages as offsets in the object, private ones as virtual pages', () => {
    const sets = keyedSets(scanOf(7, [[memfdB, [0, 2]], [heapA, [1]]]));
    expect([...sets.keys()].sort()).toEqual(['pid:7', 'shm:00:01:4242']);
    expect([...sets.get('shm:00:01:4242')!]).toEqual([16, 17, 18, 19]);
    expect([...sets.get('pid:7')!]).toEqual([page(heapA, 1), page(heapA, 1) + 1]);
  });
  it('a clipped region keeps its pages at the right file offsets', () => {
    const part = clipRegion(memfdB, memfdB.start + 4n * P, memfdB.end);
    expect(part.offset).toBe(0x14000n);
    expect([...keyedSets(scanOf(7, [[part, [0]]])).get('shm:00:01:4242')!]).toEqual([20, 21]);
  });
});

describe('aggregate', () => {
  it('counts a shared page written through two processes once, private COW pages per process', () => {
    // A writes memfd pages 16, 17, 30 (its mapping's 16, 17, 30); B writes its 0, 1, 5 = file pages 16, 17, 21.
    const a = scanOf(1, [[memfdA, [16, 17, 30]], [heapA, [0, 1, 2]]]);
    const b = scanOf(2, [[memfdB, [0, 1, 5]], [heapB, [0, 1]], [privFile, [0]]]);
    const total = aggregate([a, b]);
    expect(a.dirtyPages + b.dirtyPages).toBe(12);
    expect(total.dirtyPages).toBe(10); // shared 16, 17, 21, 30 + A's 3 heap + B's 2 heap + 1 libc page
    expect(total.sharedPagesMerged).toBe(2);
    expect(countRuns(total.sets.get('shm:00:01:4242')!)).toBe(4);
    expect(countRuns(total.sets.get('pid:1')!)).toBe(3);
    expect(countRuns(total.sets.get('pid:2')!)).toBe(3);
  });
  it('two mappings of one object in one process merge too', () => {
    const total = aggregate([scanOf(1, [[memfdA, [16, 20]], [memfdB, [0, 4, 9]]])]);
    expect(total).toMatchObject({ dirtyPages: 3, sharedPagesMerged: 2 });
  });
  it('no scans, no pages', () => {
    expect(aggregate([])).toMatchObject({ dirtyPages: 0, sharedPagesMerged: 0 });
  });
});
