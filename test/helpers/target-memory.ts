// A target's memory as the kernel holds it, read without changing it: the independent check of what
// the workloads report. Pagemap says which pages are present; only those are read through /proc/PID/mem
// (reading an absent page of private anonymous memory would map the zero page into the target).
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { decodeEntry, type PagemapEntry } from '../../src/proc/pagemap-entry.js';
import { PagemapReader } from '../../src/proc/pagemap.js';
import { PAGE_SIZE } from '../../src/kernel/info.js';

export interface Span {
  start: bigint;
  pages: number;
}

export function pagemapOf(pid: number, r: Span): PagemapEntry[] {
  const reader = new PagemapReader(pid);
  try {
    return Array.from(reader.entries(Number(r.start / BigInt(PAGE_SIZE)), r.pages), decodeEntry);
  } finally {
    reader.close();
  }
}

export const presentPages = (pm: PagemapEntry[]) => pm.flatMap((e, i) => (e.present ? [i] : []));

/** The span's contents; pages not present read as zero and are not touched. */
export function snapshot(pid: number, r: Span): Buffer {
  const pm = pagemapOf(pid, r);
  const out = Buffer.alloc(r.pages * PAGE_SIZE);
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    for (let i = 0; i < r.pages; ) {
      if (!pm[i].present) { i++; continue; }
      let j = i;
      while (j < r.pages && pm[j].present) j++;
      const want = (j - i) * PAGE_SIZE;
      const got = readSync(fd, out, i * PAGE_SIZE, want, r.start + BigInt(i * PAGE_SIZE));
      if (got !== want) throw new Error(`short read of /proc/${pid}/mem at page ${i}: ${got} of ${want}`);
      i = j;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** The 64-bit value at offset 0 of page `page`: the workloads store the write's phase or number there. */
export const word0 = (snap: Buffer, page: number) => snap.readBigUInt64LE(page * PAGE_SIZE);

export function changedPages(before: Buffer, after: Buffer): number[] {
  const out: number[] = [];
  for (let off = 0; off < after.length; off += PAGE_SIZE) if (before.compare(after, off, off + PAGE_SIZE, off, off + PAGE_SIZE) !== 0) out.push(off / PAGE_SIZE);
  return out;
}

/** The smaps block of the mapping holding `address`. */
export function smapsEntry(pid: number, address: bigint): { start: bigint; end: bigint; perms: string; vmFlags: string[]; text: string } | undefined {
  for (const block of readFileSync(`/proc/${pid}/smaps`, 'utf8').split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+)/.exec(block);
    if (m && BigInt('0x' + m[1]) <= address && address < BigInt('0x' + m[2])) {
      return { start: BigInt('0x' + m[1]), end: BigInt('0x' + m[2]), perms: m[3], vmFlags: (/VmFlags:(.*)/.exec(block)?.[1] ?? '').trim().split(/\s+/), text: block };
    }
  }
  return undefined;
}

/** Pages whose content is not the number of the last write the log gives for them (0 if none). */
export function disagreeWithLog(snap: Buffer, log: number[], extra?: { page: number; value: number }): number[] {
  const last = new Map<number, number>();
  log.forEach((p, i) => last.set(p, i + 1));
  const bad: number[] = [];
  for (let p = 0; p < snap.length / PAGE_SIZE; p++) {
    const v = word0(snap, p);
    if (v === BigInt(last.get(p) ?? 0)) continue;
    if (extra && p === extra.page && v === BigInt(extra.value)) continue;
    bad.push(p);
  }
  return bad;
}
