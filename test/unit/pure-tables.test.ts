// Table tests for pure functions: the uffd-wp region policy, region clipping, the human scan report.
import { describe, expect, it } from 'vitest';
import { parseMapsLine } from '../../src/proc/maps.js';
import { uffdRegionPolicy, MAX_REGISTER_BYTES } from '../../src/backends/uffd-wp/policy.js';
import { clipRegion, regionResult, scanParts, selectRegions } from '../../src/scan-result.js';
import { scanToText } from '../../src/report/scan-text.js';
import type { ScanResult } from '../../src/types.js';

const line = (s: string) => parseMapsLine(s);

describe('uffdRegionPolicy', () => {
  const table: Array<[string, string, RegExp?]> = [
    ['7f0000000000-7f0000100000 rw-p 00000000 00:00 0', 'register'],
    ['55d000000000-55d000021000 rw-p 00000000 00:00 0                          [heap]', 'register'],
    ['7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]', 'register'],
    ['7f0000000000-7f0000001000 rw-p 00000000 00:00 0                          [anon:v8]', 'register'],
    ['7f0000000000-7f0000100000 rw-s 00000000 00:01 42                         /dev/zero (deleted)', 'register'],
    ['7f0000000000-7f0000100000 rw-s 00000000 00:01 42                         /memfd:shared (deleted)', 'register'],
    ['7f0000000000-7f0000100000 rw-s 00000000 00:01 7                          /SYSV00000000 (deleted)', 'register'],
    ['7f0000000000-7f0000100000 rw-s 00000000 08:01 99                         /var/lib/db/file', 'skip', /shared file mapping/],
    ['7f0000000000-7f0000002000 r--p 00000000 00:00 0                          [vvar]', 'skip', /kernel-provided mapping \[vvar\]/],
    ['7ffff7fc1000-7ffff7fc3000 r-xp 00000000 00:00 0                          [vdso]', 'skip', /kernel-provided/],
    ['ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]', 'skip'],
    ['7f0000000000-7f0000100000 r--p 00000000 08:01 12                         /usr/lib/libc.so.6', 'scanIfRegistered', /read-only/],
    ['7f0000000000-7f0000100000 ---p 00000000 00:00 0', 'scanIfRegistered', /PROT_NONE/],
    [`7e0000000000-${(0x7e0000000000n + MAX_REGISTER_BYTES + 4096n).toString(16)} rw-p 00000000 00:00 0`, 'skip', /over 64 GiB: write-protecting it would add 128 MiB of page tables/],
    [`7e0000000000-${(0x7e0000000000n + MAX_REGISTER_BYTES).toString(16)} rw-p 00000000 00:00 0`, 'register'],
  ];
  for (const [maps, action, reason] of table) {
    it(`${maps.replace(/\s+/g, ' ').slice(0, 90)} → ${action}`, () => {
      const p = uffdRegionPolicy(line(maps));
      expect(p.action).toBe(action);
      if (reason) expect('reason' in p ? p.reason : '').toMatch(reason);
    });
  }
});

describe('region clipping', () => {
  const r = line('7f0000010000-7f0000020000 rw-p 00005000 08:01 12                         /data/file');
  it('clipRegion moves the file offset with the start', () => {
    expect(clipRegion(r, 0x7f0000012000n, 0x7f0000014000n)).toMatchObject({ start: 0x7f0000012000n, end: 0x7f0000014000n, offset: 0x7000n, path: '/data/file' });
    expect(clipRegion(r, r.start, r.end)).toBe(r);
  });
  const table: Array<[string, { start: bigint; end: bigint } | undefined, Array<[bigint, bigint]>]> = [
    ['no range: the whole mapping', undefined, [[0x7f0000010000n, 0x7f0000020000n]]],
    ['range inside', { start: 0x7f0000012000n, end: 0x7f0000013000n }, [[0x7f0000012000n, 0x7f0000013000n]]],
    ['range over the start', { start: 0x7f0000000000n, end: 0x7f0000011000n }, [[0x7f0000010000n, 0x7f0000011000n]]],
    ['range over the end', { start: 0x7f000001f000n, end: 0x7f0000030000n }, [[0x7f000001f000n, 0x7f0000020000n]]],
    ['range covering it', { start: 0n, end: 1n << 47n }, [[0x7f0000010000n, 0x7f0000020000n]]],
    ['partial pages widen to whole pages', { start: 0x7f0000012345n, end: 0x7f0000013001n }, [[0x7f0000012000n, 0x7f0000014000n]]],
    ['range before', { start: 0x7f0000000000n, end: 0x7f0000010000n }, []],
    ['range after', { start: 0x7f0000020000n, end: 0x7f0000030000n }, []],
  ];
  for (const [what, range, parts] of table) {
    it(`scanParts: ${what}`, () => {
      expect(scanParts(r, { range }).map((p) => [p.start, p.end])).toEqual(parts);
    });
  }
  it('scanParts with a selector: only the selected parts, inside the range', () => {
    const select = () => [{ start: 0x7f0000011000n, end: 0x7f0000013000n }, { start: 0x7f0000018000n, end: 0x7f0000030000n }];
    expect(scanParts(r, { select, range: { start: 0x7f0000012000n, end: 0x7f0000019000n } }).map((p) => [p.start, p.end]))
      .toEqual([[0x7f0000012000n, 0x7f0000013000n], [0x7f0000018000n, 0x7f0000019000n]]);
  });
  it('selectRegions: unscannable regions are skipped with the reason, only when in range', () => {
    const vsys = line('ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]');
    expect(selectRegions([r, vsys]).skipped.map((s) => s.region.path)).toEqual(['[vsyscall]']);
    expect(selectRegions([r, vsys], { range: { start: r.start, end: r.end } })).toMatchObject({ scan: [r], skipped: [] });
  });
});

describe('scanToText', () => {
  const heap = line('55d000000000-55d000021000 rw-p 00000000 00:00 0                          [heap]');
  const anon = line('7f0000000000-7f0000010000 rw-p 00000000 00:00 0');
  const gone = line('7f1000000000-7f1000001000 rw-p 00000000 08:01 5                          /tmp/x (deleted)');
  const heapPage = Number(heap.start / 4096n);
  const result = (regions: ScanResult['regions']): ScanResult => ({
    pid: 42, kernel: '6.18.0', backend: 'uffd-wp', pageSize: 4096, scanMs: 1.26,
    dirtyPages: regions.reduce((a, r) => a + r.dirtyPages, 0), regions,
    skipped: [{ region: line('ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]'), reason: 'above the user address space' }],
  });
  const many = Float64Array.from({ length: 20 }, (_, i) => heapPage + 2 * (i >> 1) + (i & 1));

  it('header, regions with dirty pages only, their ranges', () => {
    const text = scanToText(result([
      regionResult(heap, Float64Array.of(heapPage, heapPage + 3), 3),
      regionResult(anon, new Float64Array(0), 0),
      regionResult(gone, Float64Array.of(Number(gone.start / 4096n), Number(gone.start / 4096n) + 1), 1),
    ]));
    expect(text.split('\n')).toEqual([
      'pid 42 · kernel 6.18.0 · backend uffd-wp · 4096-byte pages',
      '4 dirty pages (16.0 KiB) in 2 of 3 regions, scanned in 1.3 ms',
      '  0x55d000000000-0x55d000021000 rw-p       33 pages        3 dirty  [heap]',
      '      0x55d000000000-0x55d000003000  3 pages',
      '  0x7f1000000000-0x7f1000001000 rw-p        1 pages        1 dirty  /tmp/x (deleted)',
      '      0x7f1000000000-0x7f1000001000  1 page',
    ]);
  });
  it('one dirty page, singular; no dirty page at all', () => {
    expect(scanToText(result([regionResult(anon, Float64Array.of(Number(anon.start / 4096n), Number(anon.start / 4096n) + 1), 1)])).split('\n')[1])
      .toBe('1 dirty page (4.0 KiB) in 1 of 1 region, scanned in 1.3 ms');
    expect(scanToText(result([regionResult(anon, new Float64Array(0), 0)])).split('\n')).toEqual([
      'pid 42 · kernel 6.18.0 · backend uffd-wp · 4096-byte pages',
      '0 dirty pages (0 B) in 0 of 1 region, scanned in 1.3 ms',
    ]);
  });
  it('more than 8 ranges are cut, saying how many more; --verbose shows all, clean regions and the skipped', () => {
    const regions = [regionResult(heap, many, 10), regionResult(anon, new Float64Array(0), 0)];
    const short = scanToText(result(regions)).split('\n');
    expect(short).toHaveLength(2 + 1 + 8 + 1);
    expect(short.at(-1)).toBe('      … 2 more ranges (--verbose or --json for all)');
    const long = scanToText(result(regions), { verbose: true }).split('\n');
    expect(long).toHaveLength(2 + 1 + 10 + 1 + 1);
    expect(long).toContain('  0x7f0000000000-0x7f0000010000 rw-p       16 pages        0 dirty  [anon]');
    expect(long.at(-1)).toBe('  skipped 0xffffffffff600000-0xffffffffff601000 [vsyscall]: above the user address space');
  });
});
