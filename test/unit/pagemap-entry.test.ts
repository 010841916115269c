import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry, entryFlagNames, HI_PRESENT_OR_SWAPPED, HI_SOFT_DIRTY, PM_BITS } from '../../src/proc/pagemap-entry.js';

describe('decodeEntry', () => {
  it('decodes a present, soft-dirty, exclusive page with its PFN', () => {
    const raw = (1n << 63n) | (1n << 56n) | (1n << 55n) | 0x12345n;
    expect(decodeEntry(raw)).toMatchObject({ present: true, swapped: false, softDirty: true, exclusive: true, uffdWp: false, pfn: 0x12345n });
  });
  it('decodes a swapped page into type and offset', () => {
    const raw = (1n << 62n) | (0x777n << 5n) | 3n;
    const e = decodeEntry(raw);
    expect(e).toMatchObject({ present: false, swapped: true, swapType: 3, swapOffset: 0x777n });
    expect(e.pfn).toBeUndefined();
  });
  it('decodes file/shared-anon, uffd-wp and guard bits', () => {
    expect(entryFlagNames(decodeEntry((1n << 61n) | (1n << 57n) | (1n << 58n)))).toEqual(['filePageOrSharedAnon', 'guard', 'uffdWp']);
  });
  it('a zero entry is nothing at all', () => {
    expect(entryFlagNames(decodeEntry(0n))).toEqual([]);
  });
  it('round-trips every combination of flags and sample payloads', () => {
    const names = Object.keys(PM_BITS) as (keyof typeof PM_BITS)[];
    for (let mask = 0; mask < 1 << names.length; mask++) {
      for (const payload of [0n, 1n, 0x7fffffffffffffn, 0x1234567n]) {
        let raw = payload & ((1n << 55n) - 1n);
        names.forEach((n, i) => { if (mask & (1 << i)) raw |= 1n << BigInt(PM_BITS[n]); });
        const e = decodeEntry(raw);
        // Swap payload only survives when not present; PFN only when present.
        const expected = e.present || e.swapped ? raw : raw & ~((1n << 55n) - 1n);
        expect(encodeEntry(e)).toBe(expected);
      }
    }
  });
  it('the hot loop masks agree with the bit table', () => {
    expect(BigInt(HI_SOFT_DIRTY) << 32n).toBe(1n << BigInt(PM_BITS.softDirty));
    expect(BigInt(HI_PRESENT_OR_SWAPPED) << 32n).toBe((1n << 63n) | (1n << 62n));
  });
});
