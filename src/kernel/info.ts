import { readFileSync } from 'node:fs';
import { release } from 'node:os';

/** x86-64 base page size. pagemap has one entry per base page, even inside huge pages. */
export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12n;

export function kernelRelease(): string {
  return release();
}

/** Hex string of an address, lowercase with 0x, as every output of dirtytrack prints it. */
export function hex(addr: bigint): string {
  return '0x' + addr.toString(16);
}

export function pageToAddr(page: number): bigint {
  return BigInt(page) << PAGE_SHIFT;
}

export function addrToPage(addr: bigint): number {
  // Through a double where that is exact (below 2^53): no BigInt made, and scans call this per region.
  const n = Number(addr);
  return n < 2 ** 53 ? Math.floor(n / PAGE_SIZE) : Number(addr >> PAGE_SHIFT);
}

/** Transparent huge page mode ("always", "madvise", "never"), or undefined where THP is absent. */
export function thpMode(): string | undefined {
  try {
    const text = readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
    return /\[(\w+)\]/.exec(text)?.[1];
  } catch {
    return undefined;
  }
}
