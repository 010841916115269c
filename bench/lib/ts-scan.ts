import { SoftDirtyBackend } from '../../src/backends/soft-dirty.js';
import type { ScanResult } from '../../src/types.js';

/**
 * dirtytrack's pread reader exactly as `dirtytrack scan --backend soft-dirty` runs it: the real
 * SoftDirtyBackend.scan (maps → select regions → the addon's pread walk over all of them, or with
 * `plain` PagemapReader.softDirty per region as without the addon → ScanResult).
 * Its constructor refuses on a kernel without CONFIG_MEM_SOFT_DIRTY (bit 55 is never set, but the
 * kernel still produces every entry), so the bench builds the object without running the probe.
 */
export function softDirtyScanner(pid: number, opts: { plain?: boolean } = {}): { scan(): ScanResult } {
  const b = Object.create(SoftDirtyBackend.prototype) as SoftDirtyBackend;
  Object.defineProperty(b, 'pid', { value: pid });
  Object.defineProperty(b, 'name', { value: 'soft-dirty' });
  // plain: every region read in TypeScript, as without the addon; else all of them in one native call.
  Object.defineProperty(b, 'plain', { value: opts.plain ?? false });
  return { scan: () => b.scan() };
}
