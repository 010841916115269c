/**
 * `--cgroup PATH`: every process of a cgroup v2 group and of the groups below it (a container's
 * processes may sit in nested groups), re-read every round from cgroup.procs.
 * The cgroup2 mount is found in /proc/mounts, never assumed (hybrid layouts put it at
 * /sys/fs/cgroup/unified, containers elsewhere). PATH is absolute under that mount, or relative to it
 * (like the "0::/a/b" of /proc/PID/cgroup).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, normalize, relative } from 'node:path';
import { DirtyTrackError } from '../errors.js';

export interface MountEntry {
  source: string;
  target: string;
  fstype: string;
  options: string;
}

/** /proc/mounts decodes spaces and such as octal escapes (\040). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

export function parseMounts(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 4) continue;
    out.push({ source: unescapeMount(f[0]), target: unescapeMount(f[1]), fstype: f[2], options: f[3] });
  }
  return out;
}

/** Mount points of cgroup2 file systems, in /proc/mounts order. */
export function cgroup2Mounts(mounts: MountEntry[]): string[] {
  return mounts.filter((m) => m.fstype === 'cgroup2').map((m) => m.target);
}

const within = (dir: string, p: string) => {
  const rel = relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

/**
 * The directory PATH names: absolute under one of the mounts as is; otherwise relative to the first
 * mount (a leading '/' is the hierarchy's root). Pure apart from `exists`, for fixtures.
 */
export function resolveCgroupPath(path: string, mounts: string[], exists: (p: string) => boolean = existsSync): string {
  if (mounts.length === 0) {
    throw new DirtyTrackError('ENOTSUP', 'no cgroup v2 hierarchy is mounted (no cgroup2 line in /proc/mounts): mount one (mount -t cgroup2 none /sys/fs/cgroup) or name the processes with --tree or pids');
  }
  const norm = normalize(path);
  const under = isAbsolute(norm) ? mounts.find((m) => within(m, norm)) : undefined;
  const dir = (under ? norm : join(mounts[0], norm)).replace(/(.)\/+$/, '$1');
  if (!within(under ?? mounts[0], dir)) throw new DirtyTrackError('EUSAGE', `cgroup '${path}' is outside the cgroup v2 mount ${mounts[0]}`);
  if (!exists(dir)) {
    const looked = dir === path ? '' : ` (looked for ${dir})`;
    throw new DirtyTrackError('EUSAGE', `no such cgroup: '${path}'${looked}`, { path: dir });
  }
  if (!exists(join(dir, 'cgroup.procs'))) throw new DirtyTrackError('EUSAGE', `'${path}' is not a cgroup v2 group (${dir} has no cgroup.procs)`, { path: dir });
  return dir;
}

/** Parse cgroup.procs: one pid per line. */
export function parseProcs(text: string): number[] {
  return text.split('\n').filter((s) => s !== '').map(Number);
}

/** The cgroup v2 directory for PATH on this machine (exit 2 when it does not exist, 5 without cgroup v2). */
export function findCgroup(path: string): string {
  return resolveCgroupPath(path, cgroup2Mounts(parseMounts(readFileSync('/proc/mounts', 'utf8'))));
}

/** Pids in `dir` and every group below it, now. A group removed meanwhile contributes nothing. */
export function cgroupPids(dir: string): number[] {
  const out: number[] = [];
  const visit = (d: string) => {
    try {
      out.push(...parseProcs(readFileSync(join(d, 'cgroup.procs'), 'utf8')));
    } catch {
      return; // removed meanwhile
    }
    try {
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) visit(join(d, e.name));
    } catch {
      // removed meanwhile
    }
  };
  visit(dir);
  return [...new Set(out)];
}

/** A cgroup as a group's member source (a removed cgroup has no members: the watch ends). */
export function cgroupSource(path: string): { label: string; pids(): number[] } {
  const dir = findCgroup(path);
  return { label: `cgroup ${dir}`, pids: () => cgroupPids(dir) };
}
