import { readdirSync, readlinkSync } from 'node:fs';

/**
 * Descriptors of `pid` that are userfaultfds (the uffd-wp backend's, while armed). A process that is gone
 * throws, unless `allowGone` (a member of a churning group may exit while it is being checked).
 */
export function uffdDescriptors(pid: number, { allowGone = false } = {}): number[] {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch (err) {
    if (allowGone) return [];
    throw err;
  }
  return fds.filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[userfaultfd]';
    } catch {
      return false;
    }
  }).map(Number);
}
