// Kernel-lab check of the native backends, where soft-dirty works (this host has no soft-dirty):
//   npm run lab -- --kernel deb13 -- npx tsx test/native/lab-check.ts
// 1. pagemap-scan agrees page for page with the plain soft-dirty reader, every region, both views;
// 2. uffd-wp against the targets' truth, the walk_end loop, and what holes read as on this kernel;
// 3. the probes say what works. Exit 1 on any disagreement.
import { PagemapScanBackend } from '../../src/backends/pagemap-scan.js';
import { SoftDirtyBackend } from '../../src/backends/soft-dirty.js';
import { UffdWpBackend } from '../../src/backends/uffd-wp/backend.js';
import { backendAvailability } from '../../src/backends/select.js';
import { kernelRelease } from '../../src/kernel/info.js';
import { PagemapScanner } from '../../src/proc/pagemap-ioctl.js';
import { PAGE_IS } from '../../src/kernel/abi.js';
import { probePagemapScan, probeSoftDirty, probeUffdWp } from '../../src/kernel/features.js';
import type { ScanResult } from '../../src/types.js';
import { accuracy, detectedIn } from '../../experiments/lib/metrics.js';
import type { Target } from '../../experiments/lib/target.js';
import { exitAll, spawnTarget } from './helpers.js';

let failures = 0;
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
};

/** Per-region dirty ranges as comparable strings, keyed by region start. */
function byRegion(scan: ScanResult): Map<string, string> {
  const m = new Map<string, string>();
  for (const r of scan.regions) m.set(r.region.start.toString(16), JSON.stringify(r.dirty));
  return m;
}

function sameScans(a: ScanResult, b: ScanResult, only?: [number, number]): string | null {
  if (only) {
    const [da, db] = [detectedIn(a, ...only), detectedIn(b, ...only)];
    const same = da.size === db.size && [...da].every((p) => db.has(p));
    return same ? null : `pages ${only[0]}..${only[1]}: soft-dirty ${da.size} vs pagemap-scan ${db.size}`;
  }
  const ma = byRegion(a), mb = byRegion(b);
  for (const key of new Set([...ma.keys(), ...mb.keys()])) {
    if (ma.get(key) !== mb.get(key)) return `region 0x${key}: soft-dirty ${ma.get(key)?.slice(0, 120)} vs pagemap-scan ${mb.get(key)?.slice(0, 120)}`;
  }
  return null;
}

async function agreement(name: string, args: string[], commands: string[], onlyPages?: (t: Target) => [number, number]): Promise<void> {
  const t = await spawnTarget(name, args);
  const sd = new SoftDirtyBackend(t.pid);
  const pms = new PagemapScanBackend(t.pid);
  sd.clear();
  let phase = 0;
  for (const cmd of ['', ...commands]) {
    if (cmd) await t.command(cmd);
    const only = onlyPages?.(t);
    for (const includeUnpopulated of [false, true]) {
      const a = sd.scan({ includeUnpopulated });
      const b = pms.scan({ includeUnpopulated });
      const diff = sameScans(a, b, only);
      check(diff === null, `${name} ${args.join(' ')} after '${cmd || 'clear'}'${includeUnpopulated ? ' (include unpopulated)' : ''}: ${diff ?? `${b.dirtyPages} pages, same as the plain reader`}`);
      check(JSON.stringify(a.skipped.map((s) => s.reason)) === JSON.stringify(b.skipped.map((s) => s.reason)), `  same skipped regions`);
    }
    if (phase++ % 2 === 1) pms.scan({ reset: true });
  }
  await exitAll();
}

async function uffdTruth(): Promise<void> {
  const t = await spawnTarget('stride-writer', ['--pages', '2048', '--stride', '7']);
  const b = new UffdWpBackend(t.pid);
  const main = t.region();
  b.clear();
  check(detectedIn(b.scan({ reset: true }), main.startPage, main.startPage + main.pages).size === 0, 'uffd-wp: nothing after clear');
  for (let i = 1; i <= 3; i++) {
    const acc = accuracy(await t.write(), detectedIn(b.scan({ reset: true }), main.startPage, main.startPage + main.pages));
    check(acc.recall === 1 && acc.precision === 1, `uffd-wp stride-writer phase ${i}: recall ${acc.recall} precision ${acc.precision}`);
  }
  b.close();
  await exitAll();

  const s = await spawnTarget('scenario', ['--pages', '64', '--populate']);
  const u = new UffdWpBackend(s.pid);
  u.clear();
  u.scan({ reset: true });
  await s.command('mmap extra 128');
  const truth = await s.write('write extra 1,5,100');
  const extra = s.region('extra');
  const raw = detectedIn(u.scan({ includeUnpopulated: true }), extra.startPage, extra.startPage + extra.pages).size;
  console.log(`     holes: a new 128-page mapping with 3 pages written reads as ${raw} written pages with includeUnpopulated (128: holes count as written; 3: they do not)`);
  const acc = accuracy(truth, detectedIn(u.scan({ reset: true }), extra.startPage, extra.startPage + extra.pages));
  check(acc.recall === 1 && acc.precision === 1, `uffd-wp new mapping after clear: recall ${acc.recall} precision ${acc.precision}`);
  await s.command('dontneed extra 0 64');
  const after = await s.write('write extra 2,70');
  const acc2 = accuracy(after, detectedIn(u.scan({ reset: true }), extra.startPage, extra.startPage + extra.pages));
  check(acc2.recall === 1 && acc2.precision === 1, `uffd-wp after MADV_DONTNEED: recall ${acc2.recall} precision ${acc2.precision}`);
  u.close();
  await exitAll();

  const g = await spawnTarget('stride-writer', ['--pages', '262144', '--stride', '100']);
  const big = g.region();
  const gb = new UffdWpBackend(g.pid);
  gb.clear();
  const gt = await g.write();
  const scanner = new PagemapScanner(g.pid);
  const w = scanner.scan(big.start, big.start + BigInt(big.size), { categoryMask: PAGE_IS.WRITTEN, returnMask: PAGE_IS.WRITTEN });
  scanner.close();
  check(w.count === gt.size, `walk_end: 1 GiB every 100th page: ${w.count} of ${gt.size} in ${w.calls} calls, ${w.overshoots} regions past walk_end`);
  gb.close();
  await exitAll();
}

console.log(`kernel ${kernelRelease()}`);
console.log(`probes: soft-dirty ${JSON.stringify(probeSoftDirty().works)}, pagemap-scan ${JSON.stringify(probePagemapScan())}, uffd-wp ${JSON.stringify(probeUffdWp())}`);
console.log(`backends: ${backendAvailability().map((b) => `${b.name}=${b.works}`).join(' ')}`);
if (probeSoftDirty().works && probePagemapScan().works) {
  await agreement('stride-writer', ['--pages', '2048', '--stride', '7'], ['write', 'write', 'write']);
  await agreement('stride-writer', ['--pages', '512', '--stride', '3', '--no-populate'], ['write', 'write']);
  await agreement('random-writer', ['--pages', '8192', '--count', '700', '--seed', '3'], ['write', 'write']);
  await agreement('readonly', ['--pages', '1024'], ['write']);
  await agreement('stride-writer', ['--pages', '4096', '--stride', '5', '--thp'], ['write', 'write']);
  await agreement('scenario', ['--pages', '256'], ['write 1,2,3', 'populate-read 10 40', 'mmap extra 64', 'write extra 5', 'dontneed 0 2', 'mremap 1024', 'write 700', 'mprotect 100 120 ro', 'remap', 'write 9']);
  await agreement('stride-writer', ['--pages', '262144', '--stride', '100'], ['write']);
  // Node's own threads write between the two scans: compare the buffer region only.
  await agreement('node-buffer.mjs', ['--pages', '2048', '--stride', '5'], ['write', 'write'], (t) => [t.region().startPage, t.region().startPage + t.region().pages]);
}
if (probeUffdWp().works) await uffdTruth();
console.log(failures ? `${failures} FAILED` : 'all checks passed');
process.exit(failures ? 1 : 0);
