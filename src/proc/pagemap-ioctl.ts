import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { DirtyTrackError, fromSystemError, invalidArgument, noSuchProcess } from '../errors.js';
import { errnoError, isNativeError, nativeFailure, requireNative, type FakeScanIoctl, type NativeError } from '../native/binding.js';
import { PAGE_IS } from '../kernel/abi.js';
import { memDir } from './process.js';
import type { Runs } from '../types.js';

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

export interface WalkResult {
  /** Matched pages, sorted and merged. */
  runs: Runs;
  count: number;
  /** ioctl calls made. */
  calls: number;
  /** Regions returned that end past the walk_end of their own call (the kernel bug walked around in src/native/pagemap-walk.c). */
  overshoots: number;
}

/** One range of a multi-range walk: its runs (a view into the walk's one buffer) and what stopped it. */
export interface RangeWalk {
  runs: Runs;
  count: number;
  /**
   * The errno with which the kernel failed on this range (the runs hold what came before). EPERM
   * (with PM_SCAN_CHECK_WPASYNC: no async uffd-wp here) stops only this range; any other errno stops
   * the walk, and the ranges after it carry ECANCELED. Only a number: most scans meet EPERM on every
   * read-only mapping, and an Error (with its stack trace) costs more than scanning one.
   */
  errno?: number;
}

/** Pages not write-protected: what uffd-wp tracking reports, holes included (the kernel's fast path). */
export const SCAN_WRITTEN: ScanQuery = { categoryMask: PAGE_IS.WRITTEN, returnMask: PAGE_IS.WRITTEN };
/**
 * The default view of uffd-wp, as for soft-dirty: a written page counts when present or swapped.
 * Unprotected holes match too (on kernels that count them as written), so WP_MATCHING still puts a
 * marker in them; they are dropped from the answer here. They are pages a new mapping never
 * populated, or pages MADV_DONTNEED discarded (on anonymous memory the kernel leaves no marker behind).
 */
export const SCAN_WRITTEN_POPULATED: ScanQuery = {
  categoryMask: PAGE_IS.WRITTEN,
  returnMask: PAGE_IS.WRITTEN | PAGE_IS.PRESENT | PAGE_IS.SWAPPED,
  keepAnyOf: PAGE_IS.PRESENT | PAGE_IS.SWAPPED,
};

export const { EPERM, ECANCELED } = constants.errno;
const SCAN_SYSCALL = 'ioctl(PAGEMAP_SCAN)';

/** The Error for a failed range of a walk. */
export function rangeError(range: RangeWalk): NativeError {
  return errnoError(range.errno ?? 0, SCAN_SYSCALL);
}

/** A walk the kernel stopped with an error. `partial` holds what it had returned up to then. */
export class ScanAborted extends Error {
  constructor(readonly cause: NativeError, readonly partial: WalkResult) {
    super(cause.message);
    this.name = 'ScanAborted';
  }
}

/**
 * Every page of each range (page-aligned [start, end) pairs, ascending) matching `query`, in one call
 * to the addon, which runs the loop (src/native/pagemap-walk.c explains how it resumes). `pagemap`
 * is an open /proc/PID/pagemap, or for tests a stand-in for the ioctl. Throws DirtyTrackError EIO
 * when the kernel stops making progress.
 */
export function walkRanges(pagemap: number | FakeScanIoctl, ranges: BigUint64Array, query: ScanQuery, vecRegions = VECTOR_REGIONS): { ranges: RangeWalk[]; calls: number; overshoots: number } {
  const binding = requireNative('PAGEMAP_SCAN');
  const r = binding.pagemapScanWalk(pagemap, ranges, query.flags ?? 0, query.categoryMask ?? 0, query.categoryInvertedMask ?? 0, query.categoryAnyofMask ?? 0, query.returnMask, query.keepAnyOf ?? 0, vecRegions);
  if (r.stalledAt !== undefined) throw new DirtyTrackError('EIO', `PAGEMAP_SCAN made no progress at 0x${r.stalledAt.toString(16)}`, { syscall: SCAN_SYSCALL });
  const out: RangeWalk[] = new Array(r.errnos.length);
  for (let i = 0; i < out.length; i++) {
    const runs = r.runs.subarray(2 * r.bounds[i], 2 * r.bounds[i + 1]);
    const errno = r.errnos[i];
    out[i] = errno === 0 ? { runs, count: r.pages[i] } : { runs, count: r.pages[i], errno: errno < 0 ? ECANCELED : errno };
  }
  return { ranges: out, calls: r.calls, overshoots: r.overshoots };
}

/** Every page in [start, end) matching `query`. Throws ScanAborted when the kernel fails. */
export function walkScan(pagemap: number | FakeScanIoctl, start: bigint, end: bigint, query: ScanQuery, vecRegions = VECTOR_REGIONS): WalkResult {
  const walk = walkRanges(pagemap, BigUint64Array.of(start, end), query, vecRegions);
  const [range] = walk.ranges;
  const result: WalkResult = { runs: range.runs, count: range.count, calls: walk.calls, overshoots: walk.overshoots };
  if (range.errno) throw new ScanAborted(rangeError(range), result);
  return result;
}

/** Regions per ioctl call: 4096 × 24 bytes = 96 KiB (fewer for a smaller range). */
export const VECTOR_REGIONS = 4096;

/** An open /proc/PID/pagemap. */
export class PagemapScanner {
  private readonly fd: number;
  private readonly out: BigUint64Array;
  private readonly call: (start: bigint, end: bigint, query: ScanQuery, out: BigUint64Array, maxPages: number) => { count: number; walkEnd: bigint };

  constructor(readonly pid: number | 'self', private readonly vecRegions = VECTOR_REGIONS) {
    const binding = requireNative('PAGEMAP_SCAN');
    const path = `${memDir(pid)}/pagemap`;
    try {
      this.fd = openSync(path, 'r');
    } catch (err) {
      throw fromSystemError(err, `cannot open ${path}`, typeof pid === 'number' ? pid : undefined, path);
    }
    this.out = new BigUint64Array(3); // one region: wpAllowed
    const fd = this.fd;
    this.call = (s, e, q, out, maxPages) =>
      binding.pagemapScan(fd, s, e, q.flags ?? 0, q.categoryMask ?? 0, q.categoryInvertedMask ?? 0, q.categoryAnyofMask ?? 0, q.returnMask, maxPages, out);
  }

  /** Matched pages of [start, end) (page-aligned addresses). Throws ScanAborted when the kernel fails mid-walk. */
  scan(start: bigint, end: bigint, query: ScanQuery): WalkResult {
    if (start & 0xfffn || end & 0xfffn || end < start) throw invalidArgument(`bad scan range 0x${start.toString(16)}-0x${end.toString(16)}`);
    return walkScan(this.fd, start, end, query, this.vecRegions);
  }

  /** Matched pages of each range (page-aligned, ascending), in one call; see walkRanges. */
  scanRanges(ranges: BigUint64Array, query: ScanQuery): ReturnType<typeof walkRanges> {
    return walkRanges(this.fd, ranges, query, this.vecRegions);
  }

  /** One raw call (probes): at most `out.length / 3` regions and `maxPages` pages (0: no limit), no resume. */
  once(start: bigint, end: bigint, query: ScanQuery, out: BigUint64Array, maxPages = 0): { count: number; walkEnd: bigint } {
    return this.call(start, end, query, out, maxPages);
  }

  /** Whether the mapping at `start` is registered for async uffd write-protection (one page looked at). */
  wpAllowed(start: bigint, end: bigint): boolean {
    let count: number;
    try {
      ({ count } = this.call(start, end, { categoryMask: PAGE_IS.WPALLOWED, returnMask: PAGE_IS.WPALLOWED }, this.out, 1));
    } catch (err) {
      throw scanFailure(err, this.pid === 'self' ? process.pid : this.pid); // ESRCH: exited meanwhile
    }
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
    return noSuchProcess(pid, 'exited during the scan', { syscall: cause.syscall, cause });
  }
  return nativeFailure(cause, `PAGEMAP_SCAN of ${pid} failed`, pid);
}
