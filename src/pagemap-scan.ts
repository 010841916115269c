import { closeSync, openSync } from 'node:fs';
import { DirtyTrackError, fromSystemError } from './errors.js';
import { PAGE_SHIFT } from './kernel.js';
import { isNativeError, nativeFailure, requireNative, type NativeError } from './native.js';
import { countPages, mergeRanges, RangeBuilder } from './ranges.js';
import type { PageRange } from './types.js';

/** Page categories of PAGEMAP_SCAN (include/uapi/linux/fs.h, Linux 6.7). */
export const PAGE_IS = {
  WPALLOWED: 1 << 0,  // the VMA is registered for async uffd write-protection
  WRITTEN: 1 << 1,    // the PTE is not uffd write-protected
  FILE: 1 << 2,       // maps a page that is not anonymous (page cache, shmem)
  PRESENT: 1 << 3,
  SWAPPED: 1 << 4,    // also a PTE marker (uffd-wp on a non-present page)
  PFNZERO: 1 << 5,    // maps the shared zero page
  HUGE: 1 << 6,
  SOFT_DIRTY: 1 << 7,
} as const;

export const PM_SCAN_WP_MATCHING = 1 << 0;   // write-protect the matched pages, atomically with reading them
export const PM_SCAN_CHECK_WPASYNC = 1 << 1; // fail with EPERM on a VMA without async uffd-wp

/** Which pages a scan matches (Documentation/admin-guide/mm/pagemap.rst, "PAGEMAP_SCAN"). */
export interface ScanQuery {
  flags?: number;
  /** Every category in the mask must match (after inversion). */
  categoryMask?: number;
  /** Categories that match when 0 instead of 1. */
  categoryInvertedMask?: number;
  /** At least one of these categories must match. */
  categoryAnyofMask?: number;
  returnMask: number;
  /**
   * Applied here, not by the kernel: drop returned regions whose categories include none of these
   * (they must be in returnMask). Unlike categoryAnyofMask, the kernel still matches, and with
   * WP_MATCHING protects, the dropped pages.
   */
  keepAnyOf?: number;
}

/** One PAGEMAP_SCAN call over [start, end): fills `out` with (start, end, categories) triples. */
export type ScanIoctl = (start: bigint, end: bigint, query: ScanQuery, out: BigUint64Array) => { count: number; walkEnd: bigint };

export interface WalkResult {
  /** Matched pages, sorted and merged. */
  ranges: PageRange[];
  count: number;
  /** ioctl calls made. */
  calls: number;
  /** Regions returned that end past the walk_end of their own call (the kernel bug described below). */
  overshoots: number;
}

/** A walk the kernel stopped with an error. `partial` holds what it had returned up to then. */
export class ScanAborted extends Error {
  constructor(readonly cause: NativeError, readonly partial: WalkResult) {
    super(cause.message);
    this.name = 'ScanAborted';
  }
}

/**
 * Every page in [start, end) matching `query`, with as many calls as it takes.
 *
 * The ioctl stops early when `out` is full (or max_pages is reached) and says where in walk_end, so
 * the walk always resumes. Known kernel bug (seen on 6.12 and 6.18): the last regions of a call can
 * end past that call's walk_end (1 GiB, every 100th page written, 4096-entry vector: 62 of 2,622
 * pages returned twice). Resuming from walk_end re-examines those pages: with WP_MATCHING they are
 * protected by then and do not match again; without, they come back and are merged here. Resuming
 * from max(walk_end, last end) instead would skip pages the kernel may not have examined, so the
 * kernel's walk_end is trusted for progress and duplicates are merged away.
 */
export function walkScan(ioctl: ScanIoctl, start: bigint, end: bigint, query: ScanQuery, out: BigUint64Array): WalkResult {
  // A call's regions ascend. What lies past its walk_end (the overshoot) is held back and merged in
  // order with the next call's regions, which start at that walk_end: without WP_MATCHING the kernel
  // returns those pages again (merged away here), with it they come back protected and do not.
  // So regions reach the builder in order and are merged as they come, with no sort at the end.
  const ranges = new RangeBuilder();
  let ordered = true;
  let held: PageRange[] = [];
  let calls = 0;
  let overshoots = 0;
  const add = (s: number, e: number) => {
    const last = ranges.ranges[ranges.ranges.length - 1];
    if (last && s < last[0]) ordered = false; // a kernel breaking the order: sorted at the end instead
    if (ordered) ranges.add(s, e);
    else ranges.ranges.push([s, e]);
  };
  const finish = (): WalkResult => {
    for (const [s, e] of held) add(s, e);
    held = [];
    const merged = ordered ? ranges.ranges : mergeRanges(ranges.ranges);
    return { ranges: merged, count: ordered ? ranges.count : countPages(merged), calls, overshoots };
  };
  // The hot loop reads the vector through 32-bit halves: user addresses are below 2^57, so a page
  // number (address / 4096) is hi · 2^20 + lo / 4096, exact in a double, and no BigInt is made per region.
  const words = new Uint32Array(out.buffer, out.byteOffset, out.length * 2);
  const keep = query.keepAnyOf ?? 0;
  const startPage = Number(start >> PAGE_SHIFT);
  const endPage = Number(end >> PAGE_SHIFT);
  const collect = (count: number, walkEnd: bigint): number => {
    const walkEndPage = Number(walkEnd >> PAGE_SHIFT);
    const next: PageRange[] = [];
    let h = 0;
    let lastEnd = 0;
    for (let i = 0; i < count; i++) {
      const w = 6 * i;
      let s = words[w + 1] * 1048576 + (words[w] >>> 12);
      let e = words[w + 3] * 1048576 + (words[w + 2] >>> 12);
      if (e > walkEndPage) overshoots++;
      if (e > lastEnd) lastEnd = e;
      if (keep && (words[w + 4] & keep) === 0) continue;
      if (s < startPage) s = startPage;
      if (e > endPage) e = endPage;
      if (e <= s) continue;
      while (h < held.length && held[h][0] <= s) add(held[h][0], held[h++][1]);
      if (e > walkEndPage && walkEndPage > 0) {
        if (s < walkEndPage) add(s, walkEndPage);
        next.push([Math.max(s, walkEndPage), e]);
      } else {
        add(s, e);
      }
    }
    // Held regions not yet passed stay held, ahead of this call's overshoot (both ascend).
    held = held.slice(h).concat(next);
    if (held.length > 1) held = mergeRanges(held);
    return lastEnd;
  };

  let pos = start;
  while (pos < end) {
    let count: number;
    let walkEnd: bigint;
    calls++;
    try {
      ({ count, walkEnd } = ioctl(pos, end, query, out));
    } catch (err) {
      if (!isNativeError(err)) throw err;
      collect(err.count ?? 0, err.walkEnd ?? pos);
      throw new ScanAborted(err, finish());
    }
    const lastEnd = BigInt(collect(count, walkEnd)) << PAGE_SHIFT;
    if (walkEnd > pos) pos = walkEnd;
    else if (lastEnd > pos) pos = lastEnd; // no walk_end progress but output: never loop in place
    else throw new DirtyTrackError('EIO', `PAGEMAP_SCAN made no progress at 0x${pos.toString(16)} (walk_end 0x${walkEnd.toString(16)}, ${count} regions)`);
  }
  return finish();
}

/** Regions per ioctl call: 4096 × 24 bytes = 96 KiB, reused. */
export const VECTOR_REGIONS = 4096;

/** An open /proc/PID/pagemap with the output vector reused across scans. */
export class PagemapScanner {
  private readonly fd: number;
  private readonly out: BigUint64Array;
  private readonly call: (start: bigint, end: bigint, query: ScanQuery, out: BigUint64Array, maxPages: number) => { count: number; walkEnd: bigint };

  constructor(readonly pid: number | 'self', vectorRegions = VECTOR_REGIONS) {
    const binding = requireNative('PAGEMAP_SCAN');
    const path = `/proc/${pid}/pagemap`;
    try {
      this.fd = openSync(path, 'r');
    } catch (err) {
      throw fromSystemError(err, `cannot open ${path}`, typeof pid === 'number' ? pid : undefined, path);
    }
    this.out = new BigUint64Array(vectorRegions * 3);
    const fd = this.fd;
    this.call = (s, e, q, out, maxPages) =>
      binding.pagemapScan(fd, s, e, q.flags ?? 0, q.categoryMask ?? 0, q.categoryInvertedMask ?? 0, q.categoryAnyofMask ?? 0, q.returnMask, maxPages, out);
  }

  /** Matched pages of [start, end) (page-aligned addresses). Throws ScanAborted when the kernel fails mid-walk. */
  scan(start: bigint, end: bigint, query: ScanQuery): WalkResult {
    if (start & 0xfffn || end & 0xfffn || end < start) throw new RangeError(`bad scan range 0x${start.toString(16)}-0x${end.toString(16)}`);
    return walkScan((s, e, q, out) => this.call(s, e, q, out, 0), start, end, query, this.out);
  }

  /** One raw call (probes): at most `out.length / 3` regions and `maxPages` pages (0: no limit), no resume. */
  once(start: bigint, end: bigint, query: ScanQuery, out: BigUint64Array, maxPages = 0): { count: number; walkEnd: bigint } {
    return this.call(start, end, query, out, maxPages);
  }

  /** Whether the mapping at `start` is registered for async uffd write-protection (one page looked at). */
  wpAllowed(start: bigint, end: bigint): boolean {
    const { count } = this.call(start, end, { categoryMask: PAGE_IS.WPALLOWED, returnMask: PAGE_IS.WPALLOWED }, this.out, 1);
    return count > 0 && this.out[0] === start;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** A ScanAborted or native error as a DirtyTrackError (ESRCH when the process is gone). */
export function scanFailure(err: unknown, pid: number): DirtyTrackError {
  const cause = err instanceof ScanAborted ? err.cause : err;
  if (isNativeError(cause) && cause.code === 'ESRCH') {
    return new DirtyTrackError('ESRCH', `no such process: ${pid} (exited during the scan)`, { pid, syscall: cause.syscall, cause });
  }
  return nativeFailure(cause, `PAGEMAP_SCAN of ${pid} failed`, pid);
}
