import { readdirSync, readlinkSync } from 'node:fs';

/** How many descriptors of `pid` are userfaultfds (the uffd-wp backend's, while armed); 0 once it is gone. */
export function userfaultfds(pid: number): number {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return 0;
  }
  return fds.filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[userfaultfd]';
    } catch {
      return false;
    }
  }).length;
}
