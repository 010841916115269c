/**
 * pagemap-scan: the soft-dirty backend, asking the kernel for dirty *ranges* with the PAGEMAP_SCAN
 * ioctl (Linux 6.7+) instead of reading one 8-byte pagemap entry per page.
 *
 * Same answer as the plain reader (backends/soft-dirty.ts), page for page: a page counts when it is
 * soft-dirty (category PAGE_IS_SOFT_DIRTY: the PTE bit, or VM_SOFTDIRTY on the whole VMA, exactly as
 * bit 55 is computed) and, unless includeUnpopulated, present or swapped (category_anyof_mask
 * PAGE_IS_PRESENT | PAGE_IS_SWAPPED, like bits 63 | 62). Same regions (scan-result.ts selectRegions),
 * same reset (clear_refs "4"). Reading and resetting are two steps, as with the plain reader.
 * Checked page for page against the plain reader, every region and both views, on Debian 13's 6.12
 * in the kernel lab (test/native/lab-check.ts).
 */
import { DirtyTrackError } from '../errors.js';
import { isNativeError, native, nativeStatus } from '../native/binding.js';
import { PAGE_IS, PagemapScanner, scanFailure, type ScanQuery } from '../proc/pagemap-ioctl.js';
import { allocateLocatedBuffer } from '../kernel/self-buffer.js';
import { SoftDirtyBackend, type SoftDirtyRegionReader } from './soft-dirty.js';

export function softDirtyQuery(includeUnpopulated = false): ScanQuery {
  return {
    categoryMask: PAGE_IS.SOFT_DIRTY,
    categoryAnyofMask: includeUnpopulated ? 0 : PAGE_IS.PRESENT | PAGE_IS.SWAPPED,
    returnMask: PAGE_IS.SOFT_DIRTY,
  };
}

/** The soft-dirty backend with regions read by PAGEMAP_SCAN: same selection, same reset, same answer. */
export class PagemapScanBackend extends SoftDirtyBackend {
  override readonly name = 'pagemap-scan' as const;

  constructor(pid: number) {
    super(pid);
    const probe = probePagemapScan();
    if (!probe.ok) throw new DirtyTrackError('ENOTSUP', `the pagemap-scan backend does not work here: ${probe.reason}`, { pid });
  }

  protected override openReader(): SoftDirtyRegionReader {
    const scanner = new PagemapScanner(this.pid);
    return {
      read: (r, includeUnpopulated) => scanner.scan(r.start, r.end, softDirtyQuery(includeUnpopulated)),
      close: () => scanner.close(),
    };
  }

  protected override readFailure(err: unknown): unknown {
    return scanFailure(err, this.pid);
  }
}

let probed: { ok: boolean; reason?: string } | undefined;

/**
 * Live probe on /proc/self/pagemap with the exact categories the backend uses (some 6.7-era kernels
 * have the ioctl but reject PAGE_IS_SOFT_DIRTY with EINVAL), checked on a page this process just
 * wrote: it must come back present. Whether soft-dirty itself works is probeSoftDirty's question.
 */
export function probePagemapScan(): { ok: boolean; reason?: string } {
  if (probed) return probed;
  probed = runProbe();
  return probed;
}

function runProbe(): { ok: boolean; reason?: string } {
  if (!native) return { ok: false, reason: `native addon not loaded (${nativeStatus().reason})` };
  let scanner: PagemapScanner;
  try {
    scanner = new PagemapScanner('self', 16);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  try {
    const { buffer, address } = allocateLocatedBuffer(33 * 1024 * 1024);
    const page = (address + 4095n) & ~4095n;
    buffer[Number(page - address)] = 1;
    const out = new BigUint64Array(16 * 3);
    for (const query of [softDirtyQuery(false), softDirtyQuery(true)]) scanner.once(page, page + 4096n, query, out);
    const { count } = scanner.once(page, page + 4096n, { categoryMask: PAGE_IS.PRESENT, returnMask: PAGE_IS.PRESENT }, out);
    if (count !== 1 || out[0] !== page) return { ok: false, reason: 'PAGEMAP_SCAN does not report a page just written as present' };
    return { ok: true };
  } catch (err) {
    if (!isNativeError(err)) return { ok: false, reason: `probe failed: ${(err as Error).message}` };
    if (err.code === 'ENOTTY') return { ok: false, reason: 'no PAGEMAP_SCAN ioctl (Linux 6.7+)' };
    if (err.code === 'EINVAL') return { ok: false, reason: 'PAGEMAP_SCAN rejects PAGE_IS_SOFT_DIRTY (kernel older than the category)' };
    return { ok: false, reason: `PAGEMAP_SCAN failed: ${err.code}` };
  } finally {
    scanner.close();
  }
}
