import { clearSoftDirty } from '../clear-refs.js';
import { readMaps } from '../maps.js';
import { PagemapReader } from '../pagemap.js';
import { requireSoftDirty } from '../probe-soft-dirty.js';
import { makeScanResult, regionPages, regionResult, selectRegions } from '../scan-result.js';
import type { Backend, RegionResult, ScanOptions, ScanResult } from '../types.js';

/**
 * The plain reader: bit 55 of each pagemap entry, reset through clear_refs. Needs no native code.
 * Reading and clearing are two steps: a write landing between them is lost unless the target is frozen.
 */
export class SoftDirtyBackend implements Backend {
  readonly name = 'soft-dirty' as const;

  constructor(readonly pid: number) {
    requireSoftDirty();
  }

  clear(): void {
    clearSoftDirty(this.pid);
  }

  scan(opts: ScanOptions = {}): ScanResult {
    const started = process.hrtime.bigint();
    const { scan, skipped } = selectRegions(readMaps(this.pid), opts.range);
    const reader = new PagemapReader(this.pid);
    const regions: RegionResult[] = [];
    try {
      for (const r of scan) {
        const { startPage, endPage } = regionPages(r);
        const { ranges, count } = reader.softDirty(startPage, endPage, opts.includeUnpopulated);
        regions.push(regionResult(r, ranges, count));
      }
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
