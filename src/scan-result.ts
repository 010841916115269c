import { addrToPage, kernelRelease, PAGE_SIZE } from './kernel/info.js';
import { unscannableReason } from './proc/maps.js';
import { runsToRanges } from './ranges.js';
import type { BackendName, MapsRegion, PageRange, RegionResult, Runs, ScanResult, SkippedRegion } from './types.js';

/** Split maps into regions to scan (clipped to the requested range) and regions pagemap cannot describe. */
export function selectRegions(maps: MapsRegion[], range?: { start: bigint; end: bigint }): { scan: MapsRegion[]; skipped: SkippedRegion[] } {
  const scan: MapsRegion[] = [];
  const skipped: SkippedRegion[] = [];
  for (const r of maps) {
    const reason = unscannableReason(r);
    if (reason) {
      skipped.push({ region: r, reason });
      continue;
    }
    if (range && (r.end <= range.start || r.start >= range.end)) continue;
    scan.push(range ? { ...r, start: r.start > range.start ? r.start : range.start, end: r.end < range.end ? r.end : range.end } : r);
  }
  return { scan, skipped };
}

export function regionPages(r: MapsRegion): { startPage: number; endPage: number } {
  return { startPage: addrToPage(r.start), endPage: addrToPage(r.end) };
}

export function regionResult(region: MapsRegion, runs: Runs, dirtyPages: number): RegionResult {
  const { startPage, endPage } = regionPages(region);
  let pairs: PageRange[] | undefined;
  return {
    region,
    pages: endPage - startPage,
    dirtyPages,
    runs,
    get dirty() {
      return (pairs ??= runsToRanges(runs));
    },
  };
}

export function makeScanResult(pid: number, backend: BackendName, regions: RegionResult[], skipped: SkippedRegion[], startedNs: bigint): ScanResult {
  let dirtyPages = 0;
  for (const r of regions) dirtyPages += r.dirtyPages;
  return {
    pid,
    kernel: kernelRelease(),
    backend,
    pageSize: PAGE_SIZE,
    dirtyPages,
    regions,
    skipped,
    scanMs: Number(process.hrtime.bigint() - startedNs) / 1e6,
  };
}
