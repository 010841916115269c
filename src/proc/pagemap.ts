import { closeSync, openSync, readSync } from 'node:fs';
import { DirtyTrackError, fromSystemError, noSuchProcess } from '../errors.js';
import { HI_PRESENT_OR_SWAPPED, HI_SOFT_DIRTY } from './pagemap-entry.js';
import { RangeBuilder } from '../ranges.js';
import { errnoError, native } from '../native/binding.js';
import { isAlive, memDir } from './process.js';
import type { Runs } from '../types.js';

/** The runs of a region with no dirty page (most of them): one shared, empty array. */
const NO_RUNS: Runs = new Float64Array(0);

/** Entries per pread: 64K entries = 512 KiB, as tools/mm/page-types.c does. Bounds memory for any address-space size. */
export const CHUNK_ENTRIES = 65536;

/**
 * One read buffer per chunk size, shared by every reader. Each method fills it and is done with it
 * before returning (nothing runs in between: it is all synchronous), so readers never see each
 * other's data; and a scan no longer faults in 512 KiB of fresh memory every time (0.13 ms per scan on
 * the bench machine, where the C reference scans a whole 64 MiB process in 0.4 ms: bench/, section 6).
 */
const chunkBuffers = new Map<number, { buf: Buffer; hi: Int32Array }>();

function chunkBuffer(entries: number): { buf: Buffer; hi: Int32Array } {
  let b = chunkBuffers.get(entries);
  if (!b) {
    const buf = Buffer.allocUnsafeSlow(entries * 8);
    b = { buf, hi: new Int32Array(buf.buffer, buf.byteOffset, entries * 2) };
    chunkBuffers.set(entries, b);
  }
  return b;
}

/** An open /proc/PID/pagemap read in large chunks with pread. */
export class PagemapReader {
  readonly fd: number;
  private readonly buf: Buffer;
  /** Int32 view of the buffer; hi[2 * i + 1] is the high half of entry i (x86-64 is little-endian). */
  private readonly hi: Int32Array;

  constructor(readonly pid: number | 'self', chunkEntries = CHUNK_ENTRIES) {
    const path = `${memDir(pid)}/pagemap`;
    try {
      this.fd = openSync(path, 'r');
    } catch (err) {
      throw fromSystemError(err, `cannot open ${path}`, typeof pid === 'number' ? pid : undefined, path);
    }
    ({ buf: this.buf, hi: this.hi } = chunkBuffer(chunkEntries));
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
      throw this.readFailure(page, 0, want, err);
    }
    if (got !== want) throw this.readFailure(page, got, want);
    return count;
  }

  /** The error for a pread at `page` that failed (`err`) or returned `got` of `want` bytes. */
  private readFailure(page: number, got: number, want: number, err?: unknown): DirtyTrackError {
    const path = `/proc/${this.pid}/pagemap`;
    if (err !== undefined) return fromSystemError(err, `cannot read ${path}`, this.pidNumber(), path);
    // The mm is gone when the process exited mid-scan: the kernel then returns 0 bytes.
    if (this.pid !== 'self' && !isAlive(this.pid)) {
      return noSuchProcess(this.pid, 'exited during the scan');
    }
    return new DirtyTrackError('EIO', `short read of ${path} at page 0x${page.toString(16)}: ${got} of ${want} bytes`, { pid: this.pidNumber(), syscall: 'pread' });
  }

  /**
   * softDirty() for every [startPage, endPage) pair of `ranges` (ascending) in one call to the addon
   * (src/native/pagemap-read.c), which does per region only the pread; null without the addon.
   */
  softDirtyRanges(ranges: Float64Array, includeUnpopulated = false): Array<{ runs: Runs; count: number }> | null {
    const binding = native();
    if (!binding) return null;
    const r = binding.pagemapReadWalk(this.fd, ranges, includeUnpopulated);
    if (r.failure) {
      const f = r.failure;
      throw this.readFailure(f.page, f.got, f.want, f.errno ? errnoError(f.errno, 'pread') : undefined);
    }
    const out = new Array<{ runs: Runs; count: number }>(r.pages.length);
    for (let i = 0; i < out.length; i++) {
      const [from, to] = [r.bounds[i], r.bounds[i + 1]];
      out[i] = { runs: from === to ? NO_RUNS : r.runs.subarray(2 * from, 2 * to), count: r.pages[i] };
    }
    return out;
  }

  private pidNumber(): number | undefined {
    return typeof this.pid === 'number' ? this.pid : undefined;
  }

  /**
   * Soft-dirty pages in [startPage, endPage), coalesced. By default only present or swapped pages count:
   * a new VMA carries VM_SOFTDIRTY, so every never-touched page of it reads soft-dirty too.
   */
  softDirty(startPage: number, endPage: number, includeUnpopulated = false): { runs: Runs; count: number } {
    const out = new RangeBuilder();
    const hi = this.hi;
    // High halves and masks as int32 (the present bit is the sign bit): plain 32-bit integers for V8.
    const need = includeUnpopulated ? 0 : HI_PRESENT_OR_SWAPPED | 0;
    const chunk = this.buf.length / 8;
    for (let base = startPage; base < endPage; base += chunk) {
      const n = this.readChunk(base, Math.min(chunk, endPage - base));
      const end = 2 * n; // hi[j] for odd j < end: the high halves of this chunk's entries
      let j = 1;
      while (j < end) {
        // Almost every entry is clean: test four at a time while none has bit 55 (about 3× faster than
        // one by one, which cost dirtytrack up to 1.6× the C reference: bench/, section 1).
        while (j + 6 < end && ((hi[j] | hi[j + 2] | hi[j + 4] | hi[j + 6]) & HI_SOFT_DIRTY) === 0) j += 8;
        if (j >= end) break;
        if (!isDirty(hi[j], need)) {
          j += 2;
          continue;
        }
        const first = j;
        for (j += 2; j < end && isDirty(hi[j], need); j += 2);
        out.add(base + (first >> 1), base + (j >> 1));
      }
    }
    return { runs: out.runs(), count: out.count };
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

/** Soft-dirty, and present or swapped unless `need` is 0 (the high half of an entry, as an int32). */
const isDirty = (h: number, need: number): boolean => (h & HI_SOFT_DIRTY) !== 0 && (need === 0 || (h & need) !== 0);

