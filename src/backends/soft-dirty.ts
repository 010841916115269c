import { clearSoftDirty } from '../proc/clear-refs.js';
import { readMaps } from '../proc/maps.js';
import { PagemapReader } from '../proc/pagemap.js';
import { requireSoftDirty } from '../kernel/probe-soft-dirty.js';
import { makeScanResult, regionPages, regionResult, selectRegions } from '../scan-result.js';
import type { Backend, MapsRegion, RegionResult, Runs, ScanOptions, ScanResult } from '../types.js';

/** Reads the soft-dirty pages of one region at a time; opened per scan. */
export interface SoftDirtyRegionReader {
  read(r: MapsRegion, includeUnpopulated: boolean): { runs: Runs; count: number };
  close(): void;
}

/**
 * The plain reader: bit 55 of each pagemap entry, reset through clear_refs. Needs no native code.
 * Reading and clearing are two steps: a write landing between them is lost unless the target is frozen.
 * Subclasses change only how a region's soft-dirty pages are read (backends/pagemap-scan.ts).
 */
export class SoftDirtyBackend implements Backend {
  readonly name: 'soft-dirty' | 'pagemap-scan' = 'soft-dirty';

  constructor(readonly pid: number) {
    requireSoftDirty();
  }

  protected openReader(): SoftDirtyRegionReader {
    const reader = new PagemapReader(this.pid);
    return {
      read: (r, includeUnpopulated) => {
        const { startPage, endPage } = regionPages(r);
        return reader.softDirty(startPage, endPage, includeUnpopulated);
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
    const { scan, skipped } = selectRegions(readMaps(this.pid), opts.range);
    const reader = this.openReader();
    const regions: RegionResult[] = [];
    try {
      for (const r of scan) {
        const { runs, count } = reader.read(r, opts.includeUnpopulated ?? false);
        regions.push(regionResult(r, runs, count));
      }
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
