import { clearSoftDirty } from '../proc/clear-refs.js';
import { readMaps } from '../proc/maps.js';
import { PagemapReader } from '../proc/pagemap.js';
import { requireSoftDirty } from '../kernel/features.js';
import { addrToPage } from '../kernel/info.js';
import { makeScanResult, regionResult, selectRegions } from '../scan-result.js';
import type { Backend, MapsRegion, RegionResult, Runs, ScanOptions, ScanResult } from '../types.js';

/** Reads the soft-dirty pages of the regions of one scan, in order; opened per scan. */
export interface SoftDirtyRegionReader {
  /** `pages`: the regions as [startPage, endPage) pairs. */
  read(regions: MapsRegion[], pages: Float64Array, includeUnpopulated: boolean): Array<{ runs: Runs; count: number }>;
  close(): void;
}

/**
 * The plain reader: bit 55 of each pagemap entry, reset through clear_refs. Needs no native code.
 * Reading and clearing are two steps: a write landing between them is lost unless the target is frozen.
 * Subclasses change only how a region's soft-dirty pages are read (backends/pagemap-scan.ts).
 */
export class SoftDirtyBackend implements Backend {
  readonly name: 'soft-dirty' | 'pagemap-scan' = 'soft-dirty';

  /** Read every region in TypeScript even when the addon's walk is there (the bench measures both). */
  protected readonly plain: boolean = false;

  constructor(readonly pid: number) {
    requireSoftDirty();
  }

  protected openReader(): SoftDirtyRegionReader {
    const reader = new PagemapReader(this.pid);
    return {
      read: (regions, pages, includeUnpopulated) => {
        // With the addon, all regions in one native call; without it, region by region here.
        return (this.plain ? null : reader.softDirtyRanges(pages, includeUnpopulated)) ??
          regions.map((_, i) => reader.softDirty(pages[2 * i], pages[2 * i + 1], includeUnpopulated));
      },
      close: () => reader.close(),
    };
  }

  /** How a failure while reading is reported (the plain reader's errors are already DirtyTrackErrors). */
  protected readFailure(err: unknown): unknown {
    return err;
  }

  clear(): void {
    clearSoftDirty(this.pid);
  }

  scan(opts: ScanOptions = {}): ScanResult {
    const started = process.hrtime.bigint();
    const { scan, skipped } = selectRegions(readMaps(this.pid), opts);
    const reader = this.openReader();
    let regions: RegionResult[];
    try {
      const pages = new Float64Array(2 * scan.length);
      for (let i = 0; i < scan.length; i++) {
        pages[2 * i] = addrToPage(scan[i].start);
        pages[2 * i + 1] = addrToPage(scan[i].end);
      }
      const read = reader.read(scan, pages, opts.includeUnpopulated ?? false);
      regions = scan.map((r, i) => regionResult(r, read[i].runs, read[i].count, pages[2 * i + 1] - pages[2 * i]));
    } catch (err) {
      throw this.readFailure(err);
    } finally {
      reader.close();
    }
    const result = makeScanResult(this.pid, this.name, regions, skipped, started);
    if (opts.reset) this.clear();
    return result;
  }

  close(): void {}

  release(): void {}
}
