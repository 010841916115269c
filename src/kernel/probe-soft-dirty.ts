import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { clearSoftDirty } from '../proc/clear-refs.js';
import { DirtyTrackError } from '../errors.js';
import { addrToPage, kernelRelease, PAGE_SIZE } from './info.js';
import { decodeEntry } from '../proc/pagemap-entry.js';
import { PagemapReader } from '../proc/pagemap.js';
import { allocateLocatedBuffer } from './self-buffer.js';

export interface SoftDirtyProbe {
  works: boolean;
  /** Which step of the live probe failed, or how it passed. */
  detail: string;
  /** CONFIG_MEM_SOFT_DIRTY from the kernel config where readable: true/false, or undefined when no config is readable. */
  config?: boolean;
  configSource?: string;
}

let cached: SoftDirtyProbe | undefined;

/**
 * Live probe, as CRIU's kerndat and Boehm GC do it: write a page, expect bit 55; clear, expect 0;
 * write again, expect 1. A kernel without CONFIG_MEM_SOFT_DIRTY accepts clear_refs "4" but never sets
 * bit 55, so only this probe can tell "clean" from "cannot tell". Runs once per process.
 */
export function probeSoftDirty(): SoftDirtyProbe {
  if (cached) return cached;
  const { config, configSource } = kernelConfigSoftDirty();
  let works = false;
  let detail: string;
  try {
    const { buffer, address } = allocateLocatedBuffer(40 * 1024 * 1024);
    const pageAddr = ((address + BigInt(PAGE_SIZE) - 1n) & ~BigInt(PAGE_SIZE - 1)) + BigInt(PAGE_SIZE);
    const index = Number(pageAddr - address);
    const page = addrToPage(pageAddr);
    const reader = new PagemapReader('self', 1);
    const entry = () => decodeEntry(reader.entries(page, 1)[0]);
    try {
      buffer[index] = 1;
      const first = entry();
      clearSoftDirty('self');
      const cleared = entry();
      buffer[index] = 2;
      const second = entry();
      if (!first.present) detail = 'probe page not present after a write';
      else if (!first.softDirty) detail = 'bit 55 stays 0 after a write';
      else if (cleared.softDirty) detail = 'bit 55 still set after clear_refs 4';
      else if (!second.softDirty) detail = 'bit 55 not set by a write after clear_refs';
      else {
        works = true;
        detail = 'write → 1, clear → 0, write → 1';
      }
    } finally {
      reader.close();
    }
  } catch (err) {
    detail = `probe failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  cached = { works, detail, config, configSource };
  return cached;
}

function kernelConfigSoftDirty(): { config?: boolean; configSource?: string } {
  const sources: Array<[string, () => string]> = [
    ['/proc/config.gz', () => gunzipSync(readFileSync('/proc/config.gz')).toString('utf8')],
    [`/boot/config-${kernelRelease()}`, () => readFileSync(`/boot/config-${kernelRelease()}`, 'utf8')],
  ];
  for (const [source, read] of sources) {
    try {
      const text = read();
      return { config: /^CONFIG_MEM_SOFT_DIRTY=y$/m.test(text), configSource: source };
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
  throw new DirtyTrackError(
    'ENOSOFTDIRTY',
    `soft-dirty tracking does not work on kernel ${kernelRelease()} (${p.detail}${p.config === false ? `; ${p.configSource} has CONFIG_MEM_SOFT_DIRTY unset` : ''}): ` +
      'the kernel needs CONFIG_MEM_SOFT_DIRTY=y. Use --backend uffd-wp (Linux 6.7+) or run inside the kernel lab: npm run lab -- --kernel deb13 -- <command>',
  );
}
