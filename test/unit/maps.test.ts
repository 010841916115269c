import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMaps, parseMapsLine, regionKind, unscannableReason } from '../../src/proc/maps.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/maps/${name}`, import.meta.url), 'utf8');

describe('parseMapsLine', () => {
  it('parses every field of an anonymous mapping', () => {
    const r = parseMapsLine('7f5383664000-7f5383764000 rw-p 00000000 00:00 0 ');
    expect(r).toEqual({ start: 0x7f5383664000n, end: 0x7f5383764000n, perms: 'rw-p', offset: 0n, dev: '00:00', inode: 0, path: '', deleted: false });
  });
  it('keeps spaces and parentheses inside paths', () => {
    const r = parseMapsLine('7f53843bc000-7f53843be000 rw-s 00001000 fe:00 2146481                    /tmp/dt fixture dir/file with spaces (x).bin');
    expect(r.path).toBe('/tmp/dt fixture dir/file with spaces (x).bin');
    expect(r.offset).toBe(0x1000n);
    expect(r.inode).toBe(2146481);
    expect(r.perms).toBe('rw-s');
  });
  it('splits off " (deleted)"', () => {
    const r = parseMapsLine('7f53845a9000-7f53845aa000 rw-p 00000000 fe:00 2146492   /tmp/x/deleted.bin (deleted)');
    expect(r.path).toBe('/tmp/x/deleted.bin');
    expect(r.deleted).toBe(true);
  });
  it('keeps addresses above 2^53 exact', () => {
    const r = parseMapsLine('ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]');
    expect(r.start).toBe(0xffffffffff600000n);
    expect(unscannableReason(r)).toMatch(/above the user address space/);
  });
  it('is exact on both sides of 13 hex digits (where parsing switches from a double to BigInt)', () => {
    const r = parseMapsLine('ffffffffff000-10000000000000 rw-p fffffffffffff 00:00 0 ');
    expect([r.start, r.end, r.offset]).toEqual([0xffffffffff000n, 0x10000000000000n, 0xfffffffffffffn]);
  });
  it('rejects garbage with the offending line', () => {
    expect(() => parseMapsLine('1000-2000 rw-p 00000000 00:00')).toThrow(/unparsable maps line/);
    expect(() => parseMapsLine('1000-2000 rwxq 00000000 00:00 0')).toThrow(/unparsable maps line/);
    expect(() => parseMapsLine('1000-2g00 rw-p 00000000 00:00 0')).toThrow(/unparsable maps line/);
    expect(() => parseMapsLine('not a maps line')).toThrow(/unparsable maps line/);
  });
});

describe('captured /proc/PID/maps files', () => {
  const files = readdirSync(new URL('../fixtures/maps/', import.meta.url));
  for (const name of files) {
    it(`${name}: every line parses, regions are sorted and disjoint`, () => {
      const text = fixture(name);
      const regions = parseMaps(text);
      expect(regions.length).toBe(text.split('\n').filter(Boolean).length);
      for (let i = 1; i < regions.length; i++) expect(regions[i].start >= regions[i - 1].end).toBe(true);
      for (const r of regions) expect(r.end > r.start).toBe(true);
    });
  }

  it('python-odd-paths: finds heap, stack, vvar, vsyscall, a deleted file, a path with spaces, anonymous regions', () => {
    const regions = parseMaps(fixture('python-odd-paths.txt'));
    const paths = regions.map((r) => r.path);
    expect(paths).toContain('[heap]');
    expect(paths).toContain('[stack]');
    expect(paths).toContain('[vvar]');
    expect(paths).toContain('/tmp/dt fixture dir/file with spaces (x).bin');
    expect(regions.find((r) => r.path === '/tmp/dt fixture dir/deleted.bin')?.deleted).toBe(true);
    expect(regions.find((r) => r.path === '/dev/zero')?.deleted).toBe(true);
    expect(regions.filter((r) => r.path === '').length).toBeGreaterThan(0);
    const skipped = regions.filter((r) => unscannableReason(r));
    expect(skipped.map((r) => r.path)).toEqual(['[vsyscall]']);
    expect(regions.map(regionKind)).toEqual(expect.arrayContaining(['anon', 'file', 'heap', 'stack', 'special']));
  });

  it('a kernel thread has an empty maps file', () => {
    expect(parseMaps(fixture('kthreadd-empty.txt'))).toEqual([]);
  });
});
