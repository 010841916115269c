// The addon's pread walk (src/native/pagemap-read.c) against the TypeScript reader and against what
// a target wrote. Soft-dirty only works in the lab's kernels, so this runs there (npm run test:kernels).
import { afterEach, describe, expect, it } from 'vitest';
import { Target } from '../../experiments/lib/target.js';
import { accuracy } from '../../experiments/lib/metrics.js';
import { clearSoftDirty } from '../../src/proc/clear-refs.js';
import { readMaps } from '../../src/proc/maps.js';
import { PagemapReader } from '../../src/proc/pagemap.js';
import { regionPages, selectRegions } from '../../src/scan-result.js';
import { native } from '../../src/native/binding.js';

const targets: Target[] = [];
afterEach(async () => { for (const t of targets.splice(0)) await t.exit(); });

/** Every scannable region of `pid` as page pairs. */
function pagePairs(pid: number): Float64Array {
  const { scan } = selectRegions(readMaps(pid));
  const pairs = new Float64Array(2 * scan.length);
  scan.forEach((r, i) => {
    const { startPage, endPage } = regionPages(r);
    pairs.set([startPage, endPage], 2 * i);
  });
  return pairs;
}

const pagesOf = (runs: Float64Array): number[] => {
  const out: number[] = [];
  for (let i = 0; i < runs.length; i += 2) for (let p = runs[i]; p < runs[i + 1]; p++) out.push(p);
  return out;
};

describe('native pread walk', () => {
  it('is loaded in the lab guest', () => {
    expect(native()).not.toBeNull();
  });

  for (const [name, args] of [
    ['random-writer', ['--pages', '4096', '--count', '300', '--seed', '7']],
    ['stride-writer', ['--pages', '512', '--stride', '1', '--no-populate']],
  ] as Array<[string, string[]]>) {
    it(`${name} ${args.join(' ')}: equals the TypeScript reader in every region, both views, and the truth`, async () => {
      const t = await Target.spawn(name, args);
      targets.push(t);
      const region = t.region();
      clearSoftDirty(t.pid);
      const truth = await t.write();
      const reader = new PagemapReader(t.pid);
      try {
        const pairs = pagePairs(t.pid);
        for (const includeUnpopulated of [false, true]) {
          const walked = reader.softDirtyRanges(pairs, includeUnpopulated)!;
          expect(walked).toHaveLength(pairs.length / 2);
          walked.forEach((w, i) => {
            const plain = reader.softDirty(pairs[2 * i], pairs[2 * i + 1], includeUnpopulated);
            expect({ i, runs: [...w.runs], count: w.count }).toEqual({ i, runs: [...plain.runs], count: plain.count });
          });
          if (!includeUnpopulated) {
            const inRegion = new Set(walked.flatMap((w) => pagesOf(w.runs)).filter((p) => p >= region.startPage && p < region.startPage + region.pages));
            expect(truth.size).toBeGreaterThan(0);
            expect(accuracy(truth, inRegion)).toMatchObject({ recall: 1, precision: 1 });
          }
        }
      } finally {
        reader.close();
      }
    });
  }
});
