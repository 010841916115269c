import { unscannableReason } from '../../proc/maps.js';
import type { MapsRegion } from '../../types.js';

/** Writable regions larger than this are skipped: markers would need size / 512 bytes of page tables. */
export const MAX_REGISTER_BYTES = 64n << 30n;

/** register: writable, register it. scanIfRegistered: never registered here, but scanned when an earlier
 * registration survives (a mapping made read-only after registration may hold writes). */
export type UffdPolicy = { action: 'register' } | { action: 'skip' | 'scanIfRegistered'; reason: string };

/** Whether this backend registers region `r`, or why not. */
export function uffdRegionPolicy(r: MapsRegion): UffdPolicy {
  const unscannable = unscannableReason(r);
  if (unscannable) return { action: 'skip', reason: unscannable };
  const special = r.path.startsWith('[') && !/^\[(heap|stack|anon:|anon_shmem:)/.test(r.path);
  if (special) return { action: 'skip', reason: `kernel-provided mapping ${r.path}: userfaultfd cannot track it` };
  const shared = r.perms[3] === 's';
  if (shared && !isAnonShared(r)) return { action: 'skip', reason: 'shared file mapping: its pages live in the page cache (written through other mappings and write(2) too); not tracked' };
  if (r.perms[1] !== 'w') return { action: 'scanIfRegistered', reason: r.perms.startsWith('---') ? 'PROT_NONE: not accessible' : 'read-only: the process cannot write it' };
  if (r.end - r.start > MAX_REGISTER_BYTES) return { action: 'skip', reason: `over ${MAX_REGISTER_BYTES >> 30n} GiB: write-protecting it would add ${pageTableMiB(r.end - r.start)} MiB of page tables to the target` };
  return { action: 'register' };
}

/** Page-table memory that markers in every entry of `bytes` of address space take: one 8-byte entry per 4 KiB page. */
const pageTableMiB = (bytes: bigint): bigint => bytes / 512n / (1n << 20n);

/** Whether this backend may have registered `r` at some point: everything the policy does not skip. */
export function mayBeRegistered(r: MapsRegion): boolean {
  return uffdRegionPolicy(r).action !== 'skip';
}

/** shmem without a file on disk: MAP_SHARED|MAP_ANONYMOUS, SysV shm, memfd. */
function isAnonShared(r: MapsRegion): boolean {
  return (r.path === '/dev/zero' && r.deleted) || r.path.startsWith('/SYSV') || r.path.startsWith('[anon_shmem:') || r.path.startsWith('/memfd:');
}

/** Why UFFDIO_REGISTER refused, in words; undefined for errors that are not about the region. */
export function registerRefusal(code: string): string | undefined {
  switch (code) {
    case 'EBUSY': return 'registered with another userfaultfd (the process uses userfaultfd itself)';
    case 'EINVAL': return 'userfaultfd refuses this kind of mapping (e.g. MAP_DROPPABLE, VM_PFNMAP, a misaligned hugetlb range)';
    case 'EPERM': return 'shared mapping of a file not opened for writing';
    case 'ENOMEM':
    case 'ENOENT': return 'unmapped while being registered';
    default: return undefined;
  }
}
