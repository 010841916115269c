// Timing, not a test (no timing is asserted anywhere): uffd-wp scan of a 1 GiB populated region with
// 1 % of its pages written, against reading its pagemap entries with pread.
//   npx tsx test/native/measure-scan.ts [rounds]
import { UffdWpBackend } from '../../src/backends/uffd-wp/backend.js';
import { kernelRelease } from '../../src/kernel/info.js';
import { readMaps } from '../../src/proc/maps.js';
import { PagemapReader } from '../../src/proc/pagemap.js';
import { PagemapScanner } from '../../src/proc/pagemap-ioctl.js';
import { PAGE_IS, PM_SCAN_CHECK_WPASYNC, PM_SCAN_WP_MATCHING } from '../../src/kernel/abi.js';
import { regionPages, selectRegions } from '../../src/scan-result.js';
import { exitAll, spawnTarget } from './helpers.js';

const rounds = Number(process.argv[2] ?? 15);
const PAGES = 262144; // 1 GiB
const t = await spawnTarget('stride-writer', ['--pages', String(PAGES), '--stride', '100']);
const main = t.region();
const end = main.start + BigInt(main.size);
const times: Record<string, number[]> = {};
const time = (name: string, fn: () => unknown) => {
  const t0 = process.hrtime.bigint();
  const r = fn();
  (times[name] ??= []).push(Number(process.hrtime.bigint() - t0) / 1e6);
  return r;
};

const b = new UffdWpBackend(t.pid);
b.clear();
b.scan({ reset: true });
const scanner = new PagemapScanner(t.pid);
const reader = new PagemapReader(t.pid);
const writtenQuery = { categoryMask: PAGE_IS.WRITTEN, returnMask: PAGE_IS.WRITTEN | PAGE_IS.PRESENT | PAGE_IS.SWAPPED, keepAnyOf: PAGE_IS.PRESENT | PAGE_IS.SWAPPED };
for (let i = 0; i < rounds; i++) {
  await t.write(); // 2,622 pages of the region: 1 %
  const peek = time('uffd-wp PAGEMAP_SCAN, 1 GiB region, read only', () => scanner.scan(main.start, end, { ...writtenQuery, flags: PM_SCAN_CHECK_WPASYNC })) as { count: number };
  if (peek.count !== 2622) throw new Error(`expected 2622 written pages, got ${peek.count}`);
  time('uffd-wp PAGEMAP_SCAN, 1 GiB region, read + re-protect', () => scanner.scan(main.start, end, { ...writtenQuery, flags: PM_SCAN_CHECK_WPASYNC | PM_SCAN_WP_MATCHING }));
  await t.write();
  time('uffd-wp backend scan({reset}), whole process', () => b.scan({ reset: true }));
  time('pread pagemap entries, 1 GiB region (2 MiB), + bit test', () => reader.softDirty(main.startPage, main.startPage + main.pages));
  time('pread pagemap entries, 1 GiB region, raw copy', () => reader.entries(main.startPage, main.pages));
  time('pread pagemap, whole process (plain reader)', () => {
    for (const r of selectRegions(readMaps(t.pid)).scan) {
      const { startPage, endPage } = regionPages(r);
      reader.softDirty(startPage, endPage);
    }
  });
  time('uffd-wp clear() (UFFDIO_WRITEPROTECT), whole process', () => b.clear());
}
scanner.close();
reader.close();
b.close();
await exitAll();

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`kernel ${kernelRelease()}, ${rounds} rounds, 1 GiB populated, 2,622 pages (1 %) written per round; median [min–max] ms`);
for (const [name, a] of Object.entries(times)) console.log(`${median(a).toFixed(2).padStart(8)}  [${Math.min(...a).toFixed(2)}–${Math.max(...a).toFixed(2)}]  ${name}`);
