// The PAGEMAP_SCAN walk_end bug on this kernel, and that the resume loop answers the truth anyway:
// 1 GiB mapping, every 100th page written.
import { openSync, closeSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { accuracy, detectedIn } from '../../experiments/lib/metrics.js';
import { native } from '../../src/native/binding.js';
import { PagemapScanner } from '../../src/proc/pagemap-ioctl.js';
import { PAGE_IS } from '../../src/kernel/abi.js';
import { UffdWpBackend } from '../../src/backends/uffd-wp/backend.js';
import { exitAll, spawnTarget } from './helpers.js';

afterEach(exitAll);

const GIB_PAGES = 262144;

describe('walk_end overshoot (1 GiB, every 100th page)', () => {
  it('uffd-wp: the pages reported equal the pages written, where a naive resume counts some twice', async () => {
    const t = await spawnTarget('stride-writer', ['--pages', String(GIB_PAGES), '--stride', '100']);
    const main = t.region();
    const b = new UffdWpBackend(t.pid);
    try {
      b.clear();
      const truth = await t.write();
      expect(truth.size).toBe(2622);

      // Naive: resume from walk_end, add up the counts (what the kernel bug trips).
      const fd = openSync(`/proc/${t.pid}/pagemap`, 'r');
      const out = new BigUint64Array(4096 * 3);
      let naive = 0, calls = 0;
      try {
        for (let pos = main.start, end = main.start + BigInt(main.size); pos < end; calls++) {
          const { count, walkEnd } = native()!.pagemapScan(fd, pos, end, 0, PAGE_IS.WRITTEN, 0, 0, PAGE_IS.WRITTEN, 0, out);
          for (let i = 0; i < count; i++) naive += Number((out[3 * i + 1] - out[3 * i]) / 4096n);
          pos = walkEnd;
        }
      } finally {
        closeSync(fd);
      }

      const scanner = new PagemapScanner(t.pid);
      const walked = scanner.scan(main.start, main.start + BigInt(main.size), { categoryMask: PAGE_IS.WRITTEN, returnMask: PAGE_IS.WRITTEN });
      scanner.close();
      // The kernel returns regions past its own walk_end (6.12, 6.18): a naive resume counts each of them twice.
      expect(walked.overshoots, 'this kernel no longer overshoots walk_end: the test no longer exercises the workaround').toBeGreaterThan(0);
      expect(naive).toBe(2622 + walked.overshoots);
      expect(calls).toBe(walked.calls);
      expect(walked.count).toBe(2622);

      const scan = b.scan({ reset: true });
      const acc = accuracy(truth, detectedIn(scan, main.startPage, main.startPage + main.pages));
      expect({ recall: acc.recall, precision: acc.precision, detected: acc.detected }).toEqual({ recall: 1, precision: 1, detected: 2622 });
      expect(b.scan({ reset: true }).regions.find((r) => r.region.start === main.start)?.dirtyPages).toBe(0);
    } finally {
      b.close();
    }
  });
});
