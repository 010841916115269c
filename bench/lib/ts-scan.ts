import { SoftDirtyBackend } from '../../src/backends/soft-dirty.js';
import type { ScanResult } from '../../src/types.js';

/**
 * dirtytrack's pread reader exactly as `dirtytrack scan --backend soft-dirty` runs it: the real
 * SoftDirtyBackend.scan (maps → select regions → PagemapReader.softDirty per region → ScanResult).
 * Its constructor refuses on a kernel without CONFIG_MEM_SOFT_DIRTY (bit 55 is never set, but the
 * kernel still produces every entry), so the bench builds the object without running the probe.
 */
export function softDirtyScanner(pid: number): { scan(): ScanResult } {
  const b = Object.create(SoftDirtyBackend.prototype) as SoftDirtyBackend;
  Object.defineProperty(b, 'pid', { value: pid });
  Object.defineProperty(b, 'name', { value: 'soft-dirty' });
  return { scan: () => b.scan() };
}
