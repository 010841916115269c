import { addrToPage, kernelRelease, PAGE_SIZE } from './kernel/info.js';
import { unscannableReason } from './proc/maps.js';
import { runsToRanges } from './ranges.js';
import type { BackendName, MapsRegion, PageRange, RegionResult, Runs, ScanOptions, ScanResult, SkippedRegion } from './types.js';

/** Part [start, end) of a mapping; its file offset moves with its start. */
export function clipRegion(r: MapsRegion, start: bigint, end: bigint): MapsRegion {
  if (start === r.start && end === r.end) return r;
  return { ...r, start, end, offset: r.offset + (start - r.start) };
}

/** The parts of mapping `r` a scan reads: all of it, or what opts.range and opts.select leave. */
const PAGE_MASK = BigInt(PAGE_SIZE - 1);

export function scanParts(r: MapsRegion, opts: Pick<ScanOptions, 'range' | 'select'> = {}): MapsRegion[] {
  const { range, select } = opts;
  if (range && (r.end <= range.start || r.start >= range.end)) return [];
  // Whole pages: a range that starts or ends inside a page takes that page (the walks read pages).
  const rangeStart = range ? range.start & ~PAGE_MASK : 0n, rangeEnd = range ? (range.end + PAGE_MASK) & ~PAGE_MASK : 0n;
  const inRange = range ? clipRegion(r, r.start > rangeStart ? r.start : rangeStart, r.end < rangeEnd ? r.end : rangeEnd) : r;
  if (!select) return [inRange];
  return select(r).flatMap((p) => {
    const start = p.start > inRange.start ? p.start : inRange.start;
    const end = p.end < inRange.end ? p.end : inRange.end;
    return end > start ? [clipRegion(r, start, end)] : [];
  });
}

/** Split maps into parts to scan (see scanParts) and regions pagemap cannot describe. */
export function selectRegions(maps: MapsRegion[], opts: Pick<ScanOptions, 'range' | 'select'> = {}): { scan: MapsRegion[]; skipped: SkippedRegion[] } {
  const scan: MapsRegion[] = [];
  const skipped: SkippedRegion[] = [];
  for (const r of maps) {
    const parts = scanParts(r, opts);
    if (parts.length === 0) continue;
    const reason = unscannableReason(r);
    if (reason) skipped.push({ region: r, reason });
    else scan.push(...parts);
  }
  return { scan, skipped };
}

export function regionPages(r: MapsRegion): { startPage: number; endPage: number } {
  return { startPage: addrToPage(r.start), endPage: addrToPage(r.end) };
}

/** One class, its getter on the prototype: a scan of ten thousand mappings makes ten thousand of these. */
class RegionResultOf implements RegionResult {
  private pairs?: PageRange[];
  constructor(readonly region: MapsRegion, readonly pages: number, readonly dirtyPages: number, readonly runs: Runs) {}
  get dirty(): PageRange[] {
    return (this.pairs ??= runsToRanges(this.runs));
  }
}

/** `pages`: the region's size in pages, when the caller has it already. */
export function regionResult(region: MapsRegion, runs: Runs, dirtyPages: number, pages?: number): RegionResult {
  if (pages === undefined) {
    const { startPage, endPage } = regionPages(region);
    pages = endPage - startPage;
  }
  return new RegionResultOf(region, pages, dirtyPages, runs);
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
