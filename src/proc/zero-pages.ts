/**
 * How many pages of some mappings hold only zeros: what a hypervisor's round 0 sends almost free.
 * Pages the pagemap shows neither present nor swapped read as zero without touching them (reading
 * them through /proc/PID/mem would map the zero page into the target). Present pages are read through
 * /proc/PID/mem, which leaves the target as it was. Pagemap also flags as swapped the markers
 * userfaultfd write-protection leaves on unpopulated pages (uffd-wp tracking, ours included): with no
 * swap active those are holes, so zero; with swap they are counted as not zero, unread (a read would
 * swap real ones in).
 *
 * Cost: `full` reads every present page (the whole guest RAM: about as long as reading that much
 * memory, a fraction of a second per GiB); `sample` reads `samplePages` pages chosen uniformly and
 * reports the zero fraction with its 95 % binomial interval (±1.96·√(p(1−p)/n) of all pages).
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { fromSystemError } from '../errors.js';
import { PagemapReader } from './pagemap.js';

export interface ZeroPageCount {
  pages: number;
  zeroPages: number;
  /** Pages whose content was read. */
  readPages: number;
  /** Sampled: zeroPages is an estimate, ± ci95Pages at 95 %. */
  sampled: boolean;
  ci95Pages: number;
  ms: number;
}

const PAGE = 4096;
const PRESENT = 1n << 63n;
const SWAPPED = 1n << 62n;
const BATCH_PAGES = 256; // 1 MiB reads

/** Whether any swap area is active (/proc/swaps lists more than its header). */
function swapActive(): boolean {
  try {
    return readFileSync('/proc/swaps', 'utf8').trim().split('\n').length > 1;
  } catch {
    return true; // cannot tell: count swapped-flagged pages as not zero
  }
}

export function countZeroPages(pid: number, ranges: Array<{ start: bigint; end: bigint }>, opts: { samplePages?: number } = {}): ZeroPageCount {
  const started = performance.now();
  const memPath = `/proc/${pid}/mem`;
  let mem: number;
  try {
    mem = openSync(memPath, 'r');
  } catch (err) {
    throw fromSystemError(err, `cannot open ${memPath}`, pid, memPath);
  }
  const pagemap = new PagemapReader(pid);
  // A non-present page reads as zero unless it may really be swapped out.
  const hole = swapActive() ? PRESENT | SWAPPED : PRESENT;
  const zero = Buffer.alloc(PAGE);
  const buf = Buffer.allocUnsafe(BATCH_PAGES * PAGE);
  const isZero = (o: number) => buf.subarray(o, o + PAGE).equals(zero);
  let pages = 0;
  let zeroPages = 0;
  let readPages = 0;
  try {
    const pageRanges = ranges.map((r) => ({ first: Number(r.start / BigInt(PAGE)), count: Number((r.end - r.start) / BigInt(PAGE)) }));
    const total = pageRanges.reduce((a, r) => a + r.count, 0);
    if (opts.samplePages !== undefined && opts.samplePages < total) {
      const n = opts.samplePages;
      let zeros = 0;
      for (let i = 0; i < n; i++) {
        let k = Math.floor(Math.random() * total);
        const r = pageRanges.find((x) => (k < x.count ? true : ((k -= x.count), false)))!;
        const entry = pagemap.entries(r.first + k, 1)[0]!;
        if ((entry & hole) === 0n) zeros++;
        else if (entry & PRESENT) {
          readPages++;
          if (readSync(mem, buf, 0, PAGE, (r.first + k) * PAGE) === PAGE && isZero(0)) zeros++;
        }
      }
      const p = zeros / n;
      return { pages: total, zeroPages: Math.round(p * total), readPages, sampled: true, ci95Pages: Math.round(1.96 * Math.sqrt((p * (1 - p)) / n) * total), ms: performance.now() - started };
    }
    for (const r of pageRanges) {
      for (let at = 0; at < r.count; at += BATCH_PAGES) {
        const n = Math.min(BATCH_PAGES, r.count - at);
        const entries = pagemap.entries(r.first + at, n);
        pages += n;
        // Read runs of present pages only: reading a hole would map the zero page into the target.
        for (let i = 0; i < n; ) {
          const e = entries[i]!;
          if (!(e & PRESENT)) {
            if ((e & hole) === 0n) zeroPages++;
            i++;
            continue;
          }
          let j = i + 1;
          while (j < n && entries[j]! & PRESENT) j++;
          const got = readSync(mem, buf, 0, (j - i) * PAGE, (r.first + at + i) * PAGE);
          for (let k = 0; k < j - i; k++) {
            readPages++;
            if ((k + 1) * PAGE <= got && isZero(k * PAGE)) zeroPages++;
          }
          i = j;
        }
      }
    }
  } catch (err) {
    throw fromSystemError(err, `cannot read ${memPath}`, pid, memPath);
  } finally {
    closeSync(mem);
    pagemap.close();
  }
  return { pages, zeroPages, readPages, sampled: false, ci95Pages: 0, ms: performance.now() - started };
}
