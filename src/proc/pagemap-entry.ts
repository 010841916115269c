/**
 * The 64-bit /proc/PID/pagemap entry (Documentation/admin-guide/mm/pagemap.rst), one per virtual page.
 * One table holds the bits and their names, used for decoding and printing alike.
 */
export const PM_BITS = {
  present: 63,
  swapped: 62,
  filePageOrSharedAnon: 61,
  guard: 58,          // 6.15+: guard region installed by MADV_GUARD_INSTALL
  uffdWp: 57,         // 5.17+: PTE is userfaultfd write-protected
  exclusive: 56,      // 4.2+: page exclusively mapped
  softDirty: 55,
} as const;

export type PagemapFlag = keyof typeof PM_BITS;

export const PFN_MASK = (1n << 55n) - 1n;

export interface PagemapEntry {
  present: boolean;
  swapped: boolean;
  filePageOrSharedAnon: boolean;
  guard: boolean;
  uffdWp: boolean;
  exclusive: boolean;
  softDirty: boolean;
  /** Page frame number when present (0 when the reader lacks CAP_SYS_ADMIN). */
  pfn?: bigint;
  /** Swap type and offset when swapped. */
  swapType?: number;
  swapOffset?: bigint;
}

export function decodeEntry(raw: bigint): PagemapEntry {
  const bit = (n: number) => ((raw >> BigInt(n)) & 1n) === 1n;
  const e: PagemapEntry = {
    present: bit(PM_BITS.present),
    swapped: bit(PM_BITS.swapped),
    filePageOrSharedAnon: bit(PM_BITS.filePageOrSharedAnon),
    guard: bit(PM_BITS.guard),
    uffdWp: bit(PM_BITS.uffdWp),
    exclusive: bit(PM_BITS.exclusive),
    softDirty: bit(PM_BITS.softDirty),
  };
  const low = raw & PFN_MASK;
  if (e.present) e.pfn = low;
  else if (e.swapped) {
    e.swapType = Number(low & 0x1fn);
    e.swapOffset = low >> 5n;
  }
  return e;
}

export function encodeEntry(e: PagemapEntry): bigint {
  let raw = 0n;
  for (const [name, n] of Object.entries(PM_BITS)) if (e[name as PagemapFlag]) raw |= 1n << BigInt(n);
  if (e.present && e.pfn !== undefined) raw |= e.pfn & PFN_MASK;
  else if (e.swapped) raw |= ((BigInt(e.swapOffset ?? 0n) << 5n) | BigInt(e.swapType ?? 0)) & PFN_MASK;
  return raw;
}

export function entryFlagNames(e: PagemapEntry): string[] {
  return (Object.keys(PM_BITS) as PagemapFlag[]).filter((k) => e[k]);
}

// The hot loop reads entries as two little-endian 32-bit halves: the flags all live in the high half.
export const HI_SOFT_DIRTY = 1 << (PM_BITS.softDirty - 32);
export const HI_PRESENT_OR_SWAPPED = ((1 << (PM_BITS.present - 32)) | (1 << (PM_BITS.swapped - 32))) >>> 0;
