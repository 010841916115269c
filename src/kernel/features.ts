/**
 * Every live probe of what this kernel can do, in one place and one shape: { works, reason }. Each
 * runs at most once per process, and only when asked: `auto` (backends/select.ts) asks in order and
 * stops at the first backend that works. Probes look at this process only, never at a target.
 * Live probes rather than version checks, as CRIU's kerndat does: distributions backport and
 * configure features away.
 */
import { closeSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { DirtyTrackError } from '../errors.js';
import { isNativeError, native, nativeStatus, type NativeBinding } from '../native/binding.js';
import { clearSoftDirty } from '../proc/clear-refs.js';
import { decodeEntry } from '../proc/pagemap-entry.js';
import { PagemapReader } from '../proc/pagemap.js';
import { PagemapScanner, SCAN_WRITTEN } from '../proc/pagemap-ioctl.js';
import { O_CLOEXEC, O_NONBLOCK, PAGE_IS, PM_SCAN_CHECK_WPASYNC, PM_SCAN_WP_MATCHING, TRACKER_FEATURES, UFFD_USER_MODE_ONLY } from './abi.js';
import { addrToPage, kernelRelease, PAGE_SIZE } from './info.js';
import { allocateLocatedBuffer } from './self-buffer.js';

export interface Probe {
  works: boolean;
  /** How it passed, or which step failed and why. */
  reason: string;
}

const cache = new Map<string, Probe>();
const once = (name: string, run: () => Probe): Probe => {
  let p = cache.get(name);
  if (!p) cache.set(name, (p = run()));
  return p;
};

/**
 * A page of this process's memory that only the probe writes, and its address: with the addon, a
 * page inside a small buffer (nothing else shares a page wholly inside it); without, a buffer found
 * through /proc/self/maps and /proc/self/mem (kernel/self-buffer.ts).
 */
function probePage(binding: NativeBinding | null): { bytes: Uint8Array; index: number; address: bigint } {
  let bytes: Uint8Array, address: bigint;
  if (binding) {
    bytes = new Uint8Array(3 * PAGE_SIZE);
    address = binding.bufferAddress(bytes);
  } else {
    ({ buffer: bytes, address } = allocateLocatedBuffer(33 * 1024 * 1024));
  }
  const page = (address + BigInt(PAGE_SIZE) - 1n) & ~BigInt(PAGE_SIZE - 1);
  return { bytes, index: Number(page - address), address: page };
}

/**
 * Soft-dirty, as CRIU's kerndat and Boehm GC test it: write a page, expect bit 55; clear, expect 0;
 * write again, expect 1. A kernel without CONFIG_MEM_SOFT_DIRTY accepts clear_refs "4" but never
 * sets bit 55, so only this tells "clean" from "cannot tell".
 */
export function probeSoftDirty(): Probe {
  return once('soft-dirty', () => {
    try {
      const { bytes, index, address } = probePage(native());
      const reader = new PagemapReader('self', 1);
      const entry = () => decodeEntry(reader.entries(addrToPage(address), 1)[0]);
      try {
        bytes[index] = 1;
        const first = entry();
        // Where bit 55 does not follow a write, stop here: clear_refs walks all of this process's page tables.
        if (!first.present) return { works: false, reason: 'probe page not present after a write' };
        if (!first.softDirty) return { works: false, reason: 'bit 55 stays 0 after a write' };
        clearSoftDirty('self');
        const cleared = entry();
        bytes[index] = 2;
        const second = entry();
        if (cleared.softDirty) return { works: false, reason: 'bit 55 still set after clear_refs 4' };
        if (!second.softDirty) return { works: false, reason: 'bit 55 not set by a write after clear_refs' };
        return { works: true, reason: 'write → 1, clear → 0, write → 1' };
      } finally {
        reader.close();
      }
    } catch (err) {
      return { works: false, reason: `probe failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  });
}

/** CONFIG_MEM_SOFT_DIRTY in the kernel config where one is readable (for messages and doctor). */
export function softDirtyConfig(): { config?: boolean; configSource?: string } {
  const sources: Array<[string, () => string]> = [
    // zlib only here: most runs never need it
    ['/proc/config.gz', () => createRequire(import.meta.url)('node:zlib').gunzipSync(readFileSync('/proc/config.gz')).toString('utf8')],
    [`/boot/config-${kernelRelease()}`, () => readFileSync(`/boot/config-${kernelRelease()}`, 'utf8')],
  ];
  for (const [source, read] of sources) {
    try {
      return { config: /^CONFIG_MEM_SOFT_DIRTY=y$/m.test(read()), configSource: source };
    } catch {
      // not readable: try the next
    }
  }
  return {};
}

/** Throw the capability error every soft-dirty entry point shares. */
export function requireSoftDirty(): void {
  const p = probeSoftDirty();
  if (p.works) return;
  const { config, configSource } = softDirtyConfig();
  throw new DirtyTrackError(
    'ENOSOFTDIRTY',
    `soft-dirty tracking does not work on kernel ${kernelRelease()} (${p.reason}${config === false ? `; ${configSource} has CONFIG_MEM_SOFT_DIRTY unset` : ''}): ` +
      'the kernel needs CONFIG_MEM_SOFT_DIRTY=y. Use --backend uffd-wp (Linux 6.7+) or run inside the kernel lab: npm run lab -- --kernel deb13 -- <command>',
  );
}

/**
 * PAGEMAP_SCAN with the exact categories the pagemap-scan backend uses (some 6.7-era kernels have
 * the ioctl but reject PAGE_IS_SOFT_DIRTY with EINVAL), checked on a page this process just wrote:
 * it must come back present. Whether soft-dirty itself works is probeSoftDirty's question.
 */
export function probePagemapScan(): Probe {
  return once('pagemap-scan', () => {
    const binding = native();
    if (!binding) return { works: false, reason: `native addon not loaded (${nativeStatus().reason})` };
    let scanner: PagemapScanner;
    try {
      scanner = new PagemapScanner('self', 16);
    } catch (err) {
      return { works: false, reason: (err as Error).message };
    }
    try {
      const { bytes, index, address } = probePage(binding);
      bytes[index] = 1;
      const out = new BigUint64Array(16 * 3);
      const end = address + BigInt(PAGE_SIZE);
      for (const anyof of [PAGE_IS.PRESENT | PAGE_IS.SWAPPED, 0]) {
        scanner.once(address, end, { categoryMask: PAGE_IS.SOFT_DIRTY, categoryAnyofMask: anyof, returnMask: PAGE_IS.SOFT_DIRTY }, out);
      }
      const { count } = scanner.once(address, end, { categoryMask: PAGE_IS.PRESENT, returnMask: PAGE_IS.PRESENT }, out);
      if (count !== 1 || out[0] !== address) return { works: false, reason: 'PAGEMAP_SCAN does not report a page just written as present' };
      return { works: true, reason: 'PAGEMAP_SCAN with PAGE_IS_SOFT_DIRTY works' };
    } catch (err) {
      if (!isNativeError(err)) return { works: false, reason: `probe failed: ${(err as Error).message}` };
      if (err.code === 'ENOTTY') return { works: false, reason: 'no PAGEMAP_SCAN ioctl (Linux 6.7+)' };
      if (err.code === 'EINVAL') return { works: false, reason: 'PAGEMAP_SCAN rejects PAGE_IS_SOFT_DIRTY (kernel older than the category)' };
      return { works: false, reason: `PAGEMAP_SCAN failed: ${err.code}` };
    } finally {
      scanner.close();
    }
  });
}

/** userfaultfd(2) here, retried in user-mode-only form where vm.unprivileged_userfaultfd forbids the plain one. */
export function userfaultfdHere(binding: NativeBinding): number {
  try {
    return binding.userfaultfd(O_CLOEXEC | O_NONBLOCK);
  } catch (err) {
    if (!isNativeError(err) || err.code !== 'EPERM') throw err;
    return binding.userfaultfd(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  }
}

/**
 * uffd-wp: a userfaultfd with the async write-protect features, and PAGEMAP_SCAN answering
 * PAGE_IS_WRITTEN with the flags the backend passes (checked on an empty range: arguments only).
 */
export function probeUffdWp(): Probe {
  return once('uffd-wp', () => {
    const binding = native();
    if (!binding) return { works: false, reason: `native addon not loaded (${nativeStatus().reason})` };
    let fd: number;
    try {
      fd = userfaultfdHere(binding);
    } catch (err) {
      const code = isNativeError(err) ? err.code : String(err);
      return { works: false, reason: code === 'ENOSYS' ? 'kernel built without CONFIG_USERFAULTFD' : `userfaultfd() failed: ${code}` };
    }
    try {
      let available: bigint;
      try {
        available = binding.uffdApi(fd, TRACKER_FEATURES);
      } catch (err) {
        return { works: false, reason: `UFFDIO_API refused UFFD_FEATURE_WP_ASYNC|WP_UNPOPULATED (Linux 6.7+ needed): ${isNativeError(err) ? err.code : String(err)}` };
      }
      if ((available & TRACKER_FEATURES) !== TRACKER_FEATURES) return { works: false, reason: 'userfaultfd lacks async write-protection (Linux 6.7+)' };
      const scanner = new PagemapScanner('self', 1);
      try {
        // An empty range at the bottom of the address space: only the arguments are checked.
        scanner.once(0x1000n, 0x2000n, { ...SCAN_WRITTEN, flags: PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC }, new BigUint64Array(3));
      } catch (err) {
        const code = isNativeError(err) ? err.code : String(err);
        return { works: false, reason: code === 'ENOTTY' ? 'no PAGEMAP_SCAN ioctl (Linux 6.7+)' : `PAGEMAP_SCAN with PAGE_IS_WRITTEN refused: ${code}` };
      } finally {
        scanner.close();
      }
      return { works: true, reason: 'userfaultfd async write-protect and PAGEMAP_SCAN PAGE_IS_WRITTEN work' };
    } finally {
      closeSync(fd);
    }
  });
}
