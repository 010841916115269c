import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { DirtyTrackError, fromSystemError } from './errors.js';
import { HI_PRESENT_OR_SWAPPED, HI_SOFT_DIRTY } from './pagemap-entry.js';
import { PAGE_SIZE } from './kernel.js';
import { RangeBuilder } from './ranges.js';
import type { PageRange } from './types.js';

/** Entries per pread: 64K entries = 512 KiB, as tools/mm/page-types.c does. Bounds memory for any address-space size. */
export const CHUNK_ENTRIES = 65536;

/** An open /proc/PID/pagemap read in large chunks with pread. */
export class PagemapReader {
  readonly fd: number;
  private readonly buf: Buffer;
  private readonly hi: Uint32Array;

  constructor(readonly pid: number | 'self', chunkEntries = CHUNK_ENTRIES) {
    const path = `/proc/${pid}/pagemap`;
    try {
      this.fd = openSync(path, 'r');
    } catch (err) {
      throw fromSystemError(err, `cannot open ${path}`, typeof pid === 'number' ? pid : undefined, path);
    }
    this.buf = Buffer.allocUnsafeSlow(chunkEntries * 8);
    this.hi = new Uint32Array(this.buf.buffer, this.buf.byteOffset, chunkEntries * 2);
  }

  close(): void {
    closeSync(this.fd);
  }

  /** Read `count` entries starting at page `page` into the internal buffer; returns how many were read. */
  private readChunk(page: number, count: number): number {
    const want = count * 8;
    let got: number;
    try {
      got = readSync(this.fd, this.buf, 0, want, BigInt(page) * 8n);
    } catch (err) {
      throw fromSystemError(err, `cannot read /proc/${this.pid}/pagemap`, this.pidNumber(), `/proc/${this.pid}/pagemap`);
    }
    if (got !== want) {
      // The mm is gone when the process exited mid-scan: the kernel then returns 0 bytes.
      if (this.pid !== 'self' && !existsSync(`/proc/${this.pid}/stat`)) {
        throw new DirtyTrackError('ESRCH', `no such process: ${this.pid} (exited during the scan)`, { pid: this.pid });
      }
      throw new DirtyTrackError('EIO', `short read of /proc/${this.pid}/pagemap at page 0x${page.toString(16)}: ${got} of ${want} bytes`, { pid: this.pidNumber(), syscall: 'pread' });
    }
    return count;
  }

  private pidNumber(): number | undefined {
    return typeof this.pid === 'number' ? this.pid : undefined;
  }

  /**
   * Soft-dirty pages in [startPage, endPage), coalesced. By default only present or swapped pages count:
   * a new VMA carries VM_SOFTDIRTY, so every never-touched page of it reads soft-dirty too.
   */
  softDirty(startPage: number, endPage: number, includeUnpopulated = false): { ranges: PageRange[]; count: number } {
    const out = new RangeBuilder();
    const hi = this.hi;
    const need = includeUnpopulated ? 0 : HI_PRESENT_OR_SWAPPED;
    const chunk = this.buf.length / 8;
    for (let base = startPage; base < endPage; base += chunk) {
      const n = this.readChunk(base, Math.min(chunk, endPage - base));
      let runStart = -1;
      for (let i = 0; i < n; i++) {
        const h = hi[2 * i + 1];
        const dirty = (h & HI_SOFT_DIRTY) !== 0 && (need === 0 || (h & need) !== 0);
        if (dirty) {
          if (runStart < 0) runStart = i;
        } else if (runStart >= 0) {
          out.add(base + runStart, base + i);
          runStart = -1;
        }
      }
      if (runStart >= 0) out.add(base + runStart, base + n);
    }
    return { ranges: out.ranges, count: out.count };
  }

  /** Raw 64-bit entries for [startPage, startPage + count) — for doctor, probes and tests. */
  entries(startPage: number, count: number): BigUint64Array {
    const out = new BigUint64Array(count);
    const chunk = this.buf.length / 8;
    for (let off = 0; off < count; off += chunk) {
      const n = this.readChunk(startPage + off, Math.min(chunk, count - off));
      out.set(new BigUint64Array(this.buf.buffer, this.buf.byteOffset, n), off);
    }
    return out;
  }
}

export const pagesOf = (bytes: bigint | number): number => Number(BigInt(bytes) / BigInt(PAGE_SIZE));
