/**
 * A group's total from its members' scans. A page of a shared mapping (shmem, memfd, MAP_SHARED
 * file) is one page of its backing object, whoever wrote it: keyed `shm:<dev>:<inode>` by its page
 * offset in that object, it counts once however many members wrote it. Private pages, copy-on-write
 * copies included, belong to their process: keyed `pid:<pid>` by virtual page number.
 */
import { PAGE_SHIFT, addrToPage } from '../kernel/info.js';
import { countRuns, mergeRanges, rangesToRuns } from '../ranges.js';
import type { MapsRegion, PageRange, Runs, ScanResult } from '../types.js';

export const pidKey = (pid: number) => `pid:${pid}`;

/** The backing object of a shared mapping, or null for private memory (and shared without an inode). */
export function sharedKey(r: MapsRegion): string | null {
  if (r.perms[3] !== 's' || r.inode === 0) return null;
  return `shm:${r.dev}:${r.inode}`;
}

/** One scan as keyed page sets: `pid:N` in virtual pages, `shm:…` in page offsets of the object. */
export function keyedSets(scan: ScanResult): Map<string, Runs> {
  const lists = new Map<string, PageRange[]>();
  const add = (key: string, ranges: PageRange[]) => {
    const l = lists.get(key);
    if (l) l.push(...ranges);
    else lists.set(key, ranges);
  };
  add(pidKey(scan.pid), []);
  for (const x of scan.regions) {
    if (x.dirtyPages === 0) continue;
    const key = sharedKey(x.region);
    if (key === null) {
      add(pidKey(scan.pid), x.dirty.slice());
      continue;
    }
    // page p of the mapping is page (p - first page) + offset / page size of the object
    const shift = Number(x.region.offset >> PAGE_SHIFT) - addrToPage(x.region.start);
    add(key, x.dirty.map(([s, e]): PageRange => [s + shift, e + shift]));
  }
  const out = new Map<string, Runs>();
  for (const [k, l] of lists) out.set(k, rangesToRuns(mergeRanges(l)));
  return out;
}

/** Union of keyed page sets, key by key. */
export function unionSets(sets: Iterable<Map<string, Runs>>): Map<string, Runs> {
  const lists = new Map<string, PageRange[]>();
  for (const m of sets) for (const [k, runs] of m) {
    const l = lists.get(k) ?? [];
    for (let i = 0; i < runs.length; i += 2) l.push([runs[i], runs[i + 1]]);
    lists.set(k, l);
  }
  const out = new Map<string, Runs>();
  for (const [k, l] of lists) out.set(k, rangesToRuns(mergeRanges(l)));
  return out;
}

export function countSets(sets: Map<string, Runs>): number {
  let n = 0;
  for (const runs of sets.values()) n += countRuns(runs);
  return n;
}

export interface GroupTotal {
  /** Per process and per shared object, deduplicated. */
  sets: Map<string, Runs>;
  /** Pages of the group: each shared page once. */
  dirtyPages: number;
  /** Pages counted by more than one process that the total counts once (sum of rows − total). */
  sharedPagesMerged: number;
}

/** The total of the members' scans (one scan per process). */
export function aggregate(scans: ScanResult[]): GroupTotal {
  const sets = unionSets(scans.map(keyedSets));
  const dirtyPages = countSets(sets);
  const rows = scans.reduce((a, s) => a + s.dirtyPages, 0);
  return { sets, dirtyPages, sharedPagesMerged: rows - dirtyPages };
}
