// cgroup v2: the mount from /proc/mounts fixtures, PATH resolution, and a real group on this machine.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirtyTrackError, exitCodeFor } from '../../src/errors.js';
import { cgroup2Mounts, cgroupPids, cgroupSource, findCgroup, parseMounts, parseProcs, resolveCgroupPath } from '../../src/targets/cgroup.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/proc/${name}`, import.meta.url), 'utf8');
const mountsOf = (name: string) => cgroup2Mounts(parseMounts(fixture(name)));

function thrown(f: () => unknown): DirtyTrackError {
  try {
    f();
  } catch (err) {
    if (err instanceof DirtyTrackError) return err;
    throw err;
  }
  throw new Error('did not throw');
}

describe('the cgroup2 mount', () => {
  it('is found wherever /proc/mounts says', () => {
    expect(mountsOf('mounts-hybrid.txt')).toEqual(['/sys/fs/cgroup/unified']);
    expect(mountsOf('mounts-unified.txt')).toEqual(['/sys/fs/cgroup']);
    expect(mountsOf('mounts-v1-only.txt')).toEqual([]);
    expect(mountsOf('mounts-escaped.txt')).toEqual(['/mnt/my cgroups']);
  });

  it('is required: without cgroup v2, exit 5 naming what to do', () => {
    const err = thrown(() => resolveCgroupPath('x', []));
    expect(exitCodeFor(err)).toBe(5);
    expect(err.message).toMatch(/no cgroup v2 hierarchy is mounted/);
  });
});

describe('resolveCgroupPath', () => {
  const existing = new Set(['/sys/fs/cgroup/unified', '/sys/fs/cgroup/unified/app', '/sys/fs/cgroup/unified/app/cgroup.procs', '/sys/fs/cgroup/unified/plain', '/sys/fs/cgroup/unified/cgroup.procs']);
  const exists = (p: string) => existing.has(p);
  const m = ['/sys/fs/cgroup/unified'];
  it.each([
    ['/sys/fs/cgroup/unified/app', '/sys/fs/cgroup/unified/app'],
    ['app', '/sys/fs/cgroup/unified/app'],
    ['/app', '/sys/fs/cgroup/unified/app'],
    ['./app/', '/sys/fs/cgroup/unified/app'],
    ['/', '/sys/fs/cgroup/unified'],
  ])('%s → %s', (path, dir) => {
    expect(resolveCgroupPath(path, m, exists)).toBe(dir);
  });
  it('a path that does not exist: exit 2 naming it and where it looked', () => {
    const err = thrown(() => resolveCgroupPath('nope/x', m, exists));
    expect(exitCodeFor(err)).toBe(2);
    expect(err.message).toBe(`no such cgroup: 'nope/x' (looked for /sys/fs/cgroup/unified/nope/x)`);
  });
  it('a directory that is not a cgroup, or a path escaping the mount: exit 2', () => {
    expect(thrown(() => resolveCgroupPath('plain', m, exists)).message).toMatch(/not a cgroup v2 group/);
    expect(exitCodeFor(thrown(() => resolveCgroupPath('../../etc', m, exists)))).toBe(2);
  });
  it('parses cgroup.procs', () => {
    expect(parseProcs('12\n345\n')).toEqual([12, 345]);
    expect(parseProcs('')).toEqual([]);
  });
});

describe('a real cgroup on this machine', () => {
  it('lists the processes of the group and of nested groups, re-read each time', async () => {
    const dir = findCgroup('/'); // the mount itself
    const name = `dirtytrack-test-${process.pid}`;
    const group = join(dir, name);
    mkdirSync(group);
    mkdirSync(join(group, 'inner'));
    const a = spawn('sleep', ['30'], { stdio: 'ignore' });
    const b = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(join(group, 'cgroup.procs'), String(a.pid));
      writeFileSync(join(group, 'inner', 'cgroup.procs'), String(b.pid));
      const source = cgroupSource(name);
      expect(source.label).toBe(`cgroup ${group}`);
      expect(source.pids().sort()).toEqual([a.pid, b.pid].sort());
      expect(cgroupPids(join(group, 'inner'))).toEqual([b.pid]);
      b.kill('SIGKILL');
      await new Promise((r) => b.once('exit', r));
      expect(source.pids()).toEqual([a.pid]);
      expect(exitCodeFor(thrown(() => cgroupSource(`${name}/missing`)))).toBe(2);
    } finally {
      a.kill('SIGKILL');
      b.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 100));
      rmdirSync(join(group, 'inner'));
      rmdirSync(group);
    }
  });
});
