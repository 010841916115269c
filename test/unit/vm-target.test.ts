import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DirtyTrackError } from '../../src/errors.js';
import { parseMaps } from '../../src/proc/maps.js';
import { parseQemuSize, ramBlocksFromCmdline, selectGuestRam } from '../../src/targets/vm.js';

// Captured from QEMU 7.2 started with -S (fixtures/qemu/<name>.{cmdline,maps,exe}).
const fixture = (name: string) => {
  const read = (ext: string) => readFileSync(new URL(`../fixtures/qemu/${name}.${ext}`, import.meta.url), 'utf8');
  return { argv: read('cmdline').split('\0').slice(0, -1), maps: parseMaps(read('maps')), exe: read('exe').trim() };
};
const MiB = 2 ** 20;
const ranges = (g: ReturnType<typeof selectGuestRam>) => g.regions.map((r) => `${r.start.toString(16)}-${r.end.toString(16)}`);
const usageError = (f: () => unknown): DirtyTrackError => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(DirtyTrackError);
    expect((err as DirtyTrackError).code).toBe('EUSAGE');
    return err as DirtyTrackError;
  }
  throw new Error('expected a DirtyTrackError');
};

describe('parseQemuSize', () => {
  it('reads QEMU suffixes, with the default unit for bare numbers', () => {
    expect(parseQemuSize('768M', 1)).toBe(768 * MiB);
    expect(parseQemuSize('1024', MiB)).toBe(1024 * MiB);
    expect(parseQemuSize('1073741824', 1)).toBe(2 ** 30);
    expect(parseQemuSize('1.5G', MiB)).toBe(1536 * MiB);
    expect(parseQemuSize('2g', MiB)).toBe(2 * 2 ** 30);
    expect(parseQemuSize('lots', MiB)).toBeUndefined();
  });
});

describe('selectGuestRam on captured QEMU processes', () => {
  it.each([
    ['q35-768M', ['7fa48be00000-7fa4bbe00000'], 768],
    ['pc-default', ['7f38cbe00000-7f38d3e00000'], 128],
    ['units-1024', ['7f356be00000-7f35abe00000'], 1024],
    ['memfd-backend', ['7f38dffff000-7f38fffff000'], 512],
    ['numa-two-ram', ['7fc6d7c00000-7fc6e7c00000', '7fc6e7e00000-7fc6f7e00000'], 512],
    ['file-backend', ['7fcd03fff000-7fcd13fff000'], 256],
    ['json-object', ['7f6203e00000-7f6243e00000'], 1024],
    ['ram-shared', ['7f0767e00000-7f0777e00000'], 256],
  ])('%s: the guest-RAM mappings and nothing else (never the rwx TCG buffer)', (name, expected, mib) => {
    const f = fixture(name);
    const g = selectGuestRam(f.argv, f.maps, f.exe);
    expect(ranges(g)).toEqual(expected);
    expect(g.ramBytes).toBe(mib * MiB);
    expect(g.regions.every((r) => !r.perms.includes('x'))).toBe(true);
  });

  it('names the blocks it matched', () => {
    const f = fixture('numa-two-ram');
    expect(selectGuestRam(f.argv, f.maps, f.exe).blocks.map((b) => b.id)).toEqual(['m0', 'm1']);
    expect(ramBlocksFromCmdline(fixture('memfd-backend').argv)).toEqual([{ id: 'mem0', kind: 'memfd', bytes: 512 * MiB, shared: true, memPath: undefined }]);
  });
});

describe('selectGuestRam refuses when it cannot tell', () => {
  it('refuses a process that is not QEMU, naming its executable', () => {
    const f = fixture('q35-768M');
    const e = usageError(() => selectGuestRam(['/usr/bin/node', 'server.js'], f.maps, '/usr/bin/node', 42));
    expect(e.message).toMatch(/process 42 is not QEMU \(executable \/usr\/bin\/node\)/);
  });

  it('refuses when no mapping has the RAM size (e.g. -m says 2G)', () => {
    const f = fixture('q35-768M');
    const argv = f.argv.map((a) => (a === '768M' ? '2G' : a));
    expect(usageError(() => selectGuestRam(argv, f.maps, f.exe)).message).toMatch(/no mapping matches RAM block pc\.ram \(ram, 2048 MiB\)/);
  });

  it('refuses when two anonymous mappings could be the one RAM block', () => {
    const f = fixture('q35-768M');
    const twin = { ...f.maps.find((r) => r.end - r.start === BigInt(768 * MiB))! };
    twin.start += 2n ** 36n;
    twin.end += 2n ** 36n;
    expect(usageError(() => selectGuestRam(f.argv, [...f.maps, twin], f.exe)).message).toMatch(/2 mappings \(0x7fa48be00000-0x7fa4bbe00000, 0x.*\) could be RAM block pc\.ram/);
  });

  it('refuses an unreadable -m or backend size', () => {
    expect(usageError(() => ramBlocksFromCmdline(['qemu-system-x86_64', '-m', 'plenty'])).message).toMatch(/cannot read QEMU's -m plenty/);
    expect(usageError(() => ramBlocksFromCmdline(['qemu-system-x86_64', '-object', 'memory-backend-ram,id=x'])).message).toMatch(/size of QEMU's -object/);
  });

  it('a file backend matches its mem-path only', () => {
    const f = fixture('file-backend');
    const argv = f.argv.map((a) => a.replace('/dev/shm/dt-fixture-ram', '/dev/shm/other'));
    expect(usageError(() => selectGuestRam(argv, f.maps, f.exe)).message).toMatch(/no mapping matches RAM block f0 \(file, 256 MiB, \/dev\/shm\/other\)/);
  });
});
