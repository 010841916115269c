// --region: parsing, and which parts of which mappings each spec selects (a table over maps lines).
import { describe, expect, it } from 'vitest';
import { DirtyTrackError } from '../../src/errors.js';
import { parseMapsLine } from '../../src/proc/maps.js';
import { parseRegionOptions, parseRegionSpec } from '../../src/targets/region-filter.js';
import { scanParts, selectRegions } from '../../src/scan-result.js';

const MAPS = {
  exe: '55e63365e000-55e63365f000 rw-p 00003000 fe:00 26723 /root/.pyenv/versions/3.11.7/bin/python3.11',
  heap: '55e66984b000-55e6699da000 rw-p 00000000 00:00 0 [heap]',
  shanon: '7f5383664000-7f5383764000 rw-s 00000000 00:01 1026 /dev/zero (deleted)',
  anon: '7f5383764000-7f5387764000 rw-p 00000000 00:00 0 ',
  named: '7f5387764000-7f5387765000 rw-p 00000000 00:00 0 [anon:v8 heap]',
  memfd: '7f5388000000-7f5388100000 rw-s 00000000 00:01 4242 /memfd:guest (deleted)',
  shfile: '7f5389000000-7f5389010000 rw-s 00000000 fe:00 777 /var/lib/data file.db',
  libc: '7f538a000000-7f538a002000 rw-p 001d4000 fe:00 31 /usr/lib/x86_64-linux-gnu/libc.so.6',
  stack: '7ffd1c5a0000-7ffd1c5c1000 rw-p 00000000 00:00 0 [stack]',
  vdso: '7ffd1c5fb000-7ffd1c5fd000 r-xp 00000000 00:00 0 [vdso]',
};
type Name = keyof typeof MAPS;
const regions = Object.fromEntries(Object.entries(MAPS).map(([k, l]) => [k, parseMapsLine(l)])) as Record<Name, ReturnType<typeof parseMapsLine>>;
const names = Object.keys(MAPS) as Name[];
const selected = (specs: string[]) => names.filter((n) => scanParts(regions[n], { select: parseRegionOptions(specs) }).length > 0);

describe('--region selects mappings', () => {
  it.each<[string[], Name[]]>([
    [['heap'], ['heap']],
    [['stack'], ['stack']],
    [['anon'], ['shanon', 'anon', 'named']],
    [['file'], ['exe', 'memfd', 'shfile', 'libc']],
    [['shared'], ['shanon', 'memfd', 'shfile']],
    [['*libc*'], ['libc']],
    [['/memfd:*'], ['memfd']],
    [['/dev/zero (deleted)'], ['shanon']],
    [['[heap]'], ['heap']],
    [['/var/lib/data file.db'], ['shfile']],
    [['/usr/lib/?86_64*'], ['libc']],
    [['size>=64MiB'], ['anon']],
    [['size>1M'], ['heap', 'anon']],
    [['size<8KiB'], ['exe', 'named']],
    [['size<=8K'], ['exe', 'named', 'libc', 'vdso']],
    [['size=4096'], ['exe', 'named']],
    [['size>=1.6MB'], ['heap', 'anon']], // the heap is 1,634,304 bytes
    [['size>=1.6MiB'], ['anon']],
    [['heap', 'stack'], ['heap', 'stack']],
    [['0x7f5383700000-0x7f5383800000'], ['shanon', 'anon']],
    [['0x7f5383700000-0x7f5383800000', 'heap'], ['heap', 'shanon', 'anon']],
  ])('%j → %j', (specs, expected) => {
    expect(selected(specs)).toEqual(expected);
  });

  it('clips to an address range, moving the file offset with the start, and unions overlapping ranges', () => {
    const select = parseRegionOptions(['0x7f5388010000-0x7f5388020000', '0x7f5388018000-0x7f5388030000', '0x7f5388080001-0x7f5388080002']);
    const parts = scanParts(regions.memfd, { select });
    expect(parts.map((p) => [p.start.toString(16), p.end.toString(16), p.offset.toString(16)])).toEqual([
      ['7f5388010000', '7f5388030000', '10000'],
      ['7f5388080000', '7f5388081000', '80000'], // a partial page widens to the whole page
    ]);
  });

  it('a selected whole mapping is not cut by a range that also matches it', () => {
    expect(scanParts(regions.heap, { select: parseRegionOptions(['heap', '0x55e66984b000-0x55e66984c000']) })).toEqual([regions.heap]);
  });

  it('an unselected unscannable mapping is not reported as skipped; a selected one is', () => {
    const vsys = parseMapsLine('ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]');
    expect(selectRegions([regions.heap, vsys], { select: parseRegionOptions(['heap']) }).skipped).toEqual([]);
    expect(selectRegions([regions.heap, vsys], { select: parseRegionOptions(['[vsyscall]']) }).skipped).toHaveLength(1);
    expect(selectRegions([regions.heap, vsys]).skipped).toHaveLength(1);
  });

  it('without --region everything is read, as before', () => {
    expect(parseRegionOptions(undefined)).toBeUndefined();
    expect(parseRegionOptions([])).toBeUndefined();
  });
});

describe('--region refuses what it cannot read', () => {
  it.each([
    ['heep', /expected heap, stack, anon, file, shared/],
    ['0x2000-0x1000', /range is empty/],
    ['size>=lots', /expected e.g. size>=64MiB/],
    ['size>=64iB', /expected e.g. size>=64MiB/],
    ['size 64M', /expected e.g. size>=64MiB/],
  ])('%s', (spec, message) => {
    let err: unknown;
    try {
      parseRegionSpec(spec);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DirtyTrackError);
    expect((err as DirtyTrackError).code).toBe('EUSAGE');
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain(`'${spec}'`);
  });
});
