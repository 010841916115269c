// The addon's pread walk on this machine's kernel: its arguments, its failures, and its agreement
// with the TypeScript reader. (Whether it finds soft-dirty pages is checked where soft-dirty works:
// test/lab/pagemap-read.test.ts, in the kernel lab.)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native/binding.js';
import { readMaps } from '../../src/proc/maps.js';
import { PagemapReader } from '../../src/proc/pagemap.js';
import { regionPages, selectRegions } from '../../src/scan-result.js';

const n = native()!;

describe('pagemapReadWalk', () => {
  it('refuses ranges that are not whole, ascending page pairs', () => {
    const reader = new PagemapReader('self');
    try {
      expect(() => n.pagemapReadWalk(reader.fd, Float64Array.of(1.5, 2), false)).toThrow(TypeError);
      expect(() => n.pagemapReadWalk(reader.fd, Float64Array.of(4, 2), false)).toThrow(TypeError);
      expect(() => n.pagemapReadWalk(reader.fd, Float64Array.of(8, 9, 1, 2), false)).toThrow(TypeError);
      expect(() => n.pagemapReadWalk(reader.fd, Float64Array.of(1), false)).toThrow(TypeError);
      expect(() => (n.pagemapReadWalk as any)(reader.fd, [1, 2], false)).toThrow(TypeError);
    } finally {
      reader.close();
    }
  });

  it('gives every region of this process the same answer as the TypeScript reader', () => {
    const { scan } = selectRegions(readMaps('self'));
    const pairs = new Float64Array(scan.flatMap((r) => Object.values(regionPages(r))));
    const reader = new PagemapReader('self');
    try {
      for (const includeUnpopulated of [false, true]) {
        const walked = reader.softDirtyRanges(pairs, includeUnpopulated)!;
        expect(walked).toHaveLength(scan.length);
        walked.forEach((w, i) => {
          const plain = reader.softDirty(pairs[2 * i], pairs[2 * i + 1], includeUnpopulated);
          expect({ i, runs: [...w.runs], count: w.count }).toEqual({ i, runs: [...plain.runs], count: plain.count });
        });
      }
    } finally {
      reader.close();
    }
  });

  it('reports a process that exited mid-walk as ESRCH, as the TypeScript reader does', async () => {
    const child = spawn('sleep', ['30']);
    await once(child, 'spawn');
    const { scan } = selectRegions(readMaps(child.pid!));
    const pairs = new Float64Array(scan.flatMap((r) => Object.values(regionPages(r))));
    const reader = new PagemapReader(child.pid!);
    try {
      child.kill('SIGKILL');
      await once(child, 'exit');
      expect(() => reader.softDirtyRanges(pairs)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
      expect(() => reader.softDirty(pairs[0], pairs[1])).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    } finally {
      reader.close();
    }
  });
});
