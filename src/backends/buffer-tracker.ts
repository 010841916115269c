/**
 * Tracking this process's own buffers: which pages of given ArrayBuffers (or typed arrays) were
 * written since the last clear, as Boehm GC's soft-dirty mode and Wine's GetWriteWatch do for their
 * own heaps. A userfaultfd made here, in async write-protect mode (no ptrace, no thread to read it),
 * registers only the pages behind the buffers; PAGEMAP_SCAN reads which of them were written since
 * they were protected, and with `reset` re-protects exactly those, atomically.
 *
 * Granularity is the page. A buffer's first and last page may hold other data (small buffers share
 * pages with the allocator's other blocks): a write there to that other data reports the buffer's
 * bytes on that page too. Never fewer pages than were written, and exact for buffers of whole pages
 * (above 32 MiB glibc maps each buffer on its own). Until the first clear() every page reads as
 * written. The tracker holds the buffers, so they stay alive (and in place) until close().
 */
import { closeSync } from 'node:fs';
import { DirtyTrackError, invalidArgument } from '../errors.js';
import { PAGE_SIZE } from '../kernel/info.js';
import { PM_SCAN_CHECK_WPASYNC, PM_SCAN_WP_MATCHING, TRACKER_FEATURES, UFFDIO_REGISTER_MODE_WP } from '../kernel/abi.js';
import { probeUffdWp, userfaultfdHere } from '../kernel/features.js';
import { nativeFailure, requireNative, type NativeBinding } from '../native/binding.js';
import { PagemapScanner, rangeError, SCAN_WRITTEN } from '../proc/pagemap-ioctl.js';
import type { Runs } from '../types.js';

export type TrackedBuffer = ArrayBuffer | ArrayBufferView;

export interface BufferScan {
  pageSize: number;
  /** Pages written, over all buffers (a page two buffers share counts for each). */
  dirtyPages: number;
  /**
   * Per buffer, in the order given: the bytes on written pages, as byte offsets into the buffer,
   * [start0, end0, start1, end1, …], half-open, ascending, clipped to the buffer.
   */
  buffers: Array<{ runs: Runs; dirtyPages: number }>;
  scanMs: number;
}

const PAGE = BigInt(PAGE_SIZE);

/** Track writes to the pages behind `buffers` (this process's own memory). */
export function trackBuffers(buffers: TrackedBuffer[]): BufferTracker {
  return new BufferTracker(buffers);
}

export class BufferTracker {
  private readonly binding: NativeBinding;
  /** Each buffer's bytes: [address, address + byteLength). */
  private readonly spans: Array<{ start: bigint; end: bigint }>;
  /** The buffers' pages, merged into disjoint ascending page-aligned [start, end) address pairs. */
  private readonly areas: BigUint64Array;
  private readonly fd: number;
  private readonly scanner: PagemapScanner;
  private open = true;

  constructor(private readonly buffers: TrackedBuffer[]) {
    this.binding = requireNative('tracking buffers');
    const probe = probeUffdWp();
    if (!probe.works) throw new DirtyTrackError('ENOTSUP', `tracking buffers needs uffd-wp, which does not work here: ${probe.reason}`);
    if (buffers.length === 0) throw invalidArgument('trackBuffers: no buffers given');
    this.spans = buffers.map((b, i) => {
      if (!(b instanceof ArrayBuffer) && !ArrayBuffer.isView(b)) throw invalidArgument(`trackBuffers: buffer ${i} is not an ArrayBuffer or a view of one`);
      const start = this.binding.bufferAddress(b);
      return { start, end: start + BigInt(b.byteLength) };
    });
    this.areas = mergeAreas(this.spans);
    this.fd = userfaultfdHere(this.binding);
    try {
      if ((this.binding.uffdApi(this.fd, TRACKER_FEATURES) & TRACKER_FEATURES) !== TRACKER_FEATURES) {
        throw new DirtyTrackError('ENOTSUP', 'userfaultfd lacks async write-protection (Linux 6.7+)');
      }
      this.eachArea((start, len) => this.binding.uffdRegister(this.fd, start, len, UFFDIO_REGISTER_MODE_WP), 'UFFDIO_REGISTER');
      this.scanner = new PagemapScanner('self');
    } catch (err) {
      closeSync(this.fd); // closing the descriptor also unregisters what it registered
      throw err;
    }
  }

  /** Write-protect every tracked page: afterwards only pages written from now on are reported. */
  clear(): void {
    this.ensureOpen();
    this.eachArea((start, len) => this.binding.uffdWriteprotect(this.fd, start, len, true), 'UFFDIO_WRITEPROTECT');
  }

  /** Pages written since the last clear; with `reset`, re-protects them as they are read (no write lost in between). */
  scan(opts: { reset?: boolean } = {}): BufferScan {
    this.ensureOpen();
    const started = process.hrtime.bigint();
    const query = { ...SCAN_WRITTEN, flags: PM_SCAN_CHECK_WPASYNC | (opts.reset ? PM_SCAN_WP_MATCHING : 0) };
    const walk = this.scanner.scanRanges(this.areas, query);
    for (const range of walk.ranges) if (range.errno) throw nativeFailure(rangeError(range), 'PAGEMAP_SCAN of a tracked buffer');
    let dirtyPages = 0;
    const buffers = this.spans.map((span) => {
      const runs = bufferRuns(span, walk.ranges[areaOf(this.areas, span.start)].runs);
      const pages = pagesIn(span, runs);
      dirtyPages += pages;
      return { runs, dirtyPages: pages };
    });
    return { pageSize: PAGE_SIZE, dirtyPages, buffers, scanMs: Number(process.hrtime.bigint() - started) / 1e6 };
  }

  /** Stop tracking: unregister the pages and close the descriptor. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    try {
      this.eachArea((start, len) => this.binding.uffdUnregister(this.fd, start, len), 'UFFDIO_UNREGISTER');
    } finally {
      closeSync(this.fd);
      this.scanner.close();
    }
  }

  /** The buffers tracked, in the order given. */
  get tracked(): readonly TrackedBuffer[] {
    return this.buffers;
  }

  private eachArea(fn: (start: bigint, len: bigint) => unknown, what: string): void {
    for (let i = 0; i < this.areas.length; i += 2) {
      try {
        fn(this.areas[i], this.areas[i + 1] - this.areas[i]);
      } catch (err) {
        throw nativeFailure(err, `${what} of a tracked buffer at 0x${this.areas[i].toString(16)}`);
      }
    }
  }

  private ensureOpen(): void {
    if (!this.open) throw new DirtyTrackError('EBADF', 'buffer tracking is closed');
  }
}

/** The page-aligned hulls of the spans, sorted and merged where they overlap or touch. */
function mergeAreas(spans: Array<{ start: bigint; end: bigint }>): BigUint64Array {
  const hulls = spans
    .filter((s) => s.end > s.start)
    .map((s) => [(s.start / PAGE) * PAGE, ((s.end + PAGE - 1n) / PAGE) * PAGE] as [bigint, bigint])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: bigint[] = [];
  for (const [s, e] of hulls) {
    if (out.length && s <= out[out.length - 1]) {
      if (e > out[out.length - 1]) out[out.length - 1] = e;
    } else out.push(s, e);
  }
  return BigUint64Array.from(out);
}

/** Index (in ranges) of the area holding `address`. */
function areaOf(areas: BigUint64Array, address: bigint): number {
  for (let i = 0; i < areas.length; i += 2) if (address >= areas[i] && address < areas[i + 1]) return i / 2;
  return 0; // an empty buffer: its runs come out empty whatever the area
}

/** The written pages (page-number runs) that meet `span`, as byte offsets into it, clipped. */
function bufferRuns(span: { start: bigint; end: bigint }, pageRuns: Runs): Runs {
  if (span.end === span.start) return new Float64Array(0);
  const base = Number(span.start % PAGE);
  const firstPage = Number(span.start / PAGE), length = Number(span.end - span.start);
  const out: number[] = [];
  for (let i = 0; i < pageRuns.length; i += 2) {
    // Byte offsets relative to the buffer's first byte.
    const s = Math.max(0, (pageRuns[i] - firstPage) * PAGE_SIZE - base);
    const e = Math.min(length, (pageRuns[i + 1] - firstPage) * PAGE_SIZE - base);
    if (e > s) out.push(s, e);
  }
  return Float64Array.from(out);
}

/** Pages of `span` that byte runs touch. */
function pagesIn(span: { start: bigint }, runs: Runs): number {
  const base = Number(span.start % PAGE);
  let n = 0;
  for (let i = 0; i < runs.length; i += 2) n += Math.ceil((runs[i + 1] + base) / PAGE_SIZE) - Math.floor((runs[i] + base) / PAGE_SIZE);
  return n;
}
