// The exporter's pure parts: windows over page runs, argument parsing, series lifecycle, discovery.
import { describe, expect, it } from 'vitest';
import { SlidingWindow } from '../../src/serve/window.js';
import { parseListen, parseServeArgs } from '../../src/cli/serve.js';
import { ServeMetrics } from '../../src/serve/metrics.js';
import { spawn } from 'node:child_process';
import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { findCgroup } from '../../src/targets/cgroup.js';
import { Discovery, selfAndAncestors, type TargetSpec } from '../../src/serve/targets.js';
import type { TargetReport } from '../../src/serve/messages.js';

const runs = (...xs: number[]) => new Float64Array(xs);

describe('sliding window', () => {
  it('the window forgets rounds older than its size', () => {
    const w = new SlidingWindow(2);
    expect(w.push(runs(0, 10))).toEqual({ workingSetPages: 10, hotSetPages: 10 });
    expect(w.push(runs(5, 15))).toEqual({ workingSetPages: 15, hotSetPages: 5 });
    expect(w.push(runs(5, 6, 100, 101))).toEqual({ workingSetPages: 11, hotSetPages: 1 }); // [0,5) left
  });
});

describe('serve arguments', () => {
  it('listen addresses', () => {
    expect(parseListen('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    for (const bad of ['9464', ':9464', '127.0.0.1:99999', '[nothex]:1', '::1:9464']) expect(() => parseListen(bad)).toThrow(/invalid --listen/);
  });

  it('targets, defaults and the window in rounds', () => {
    const o = parseServeArgs(['42', '--match', 'qemu', '--interval', '500ms', '--window', '10s', '--bandwidth', '1GiB/s']);
    expect(o.targets).toEqual([{ kind: 'pid', pid: 42 }, { kind: 'match', pattern: 'qemu' }]);
    expect(o).toMatchObject({ host: '127.0.0.1', port: 9464, intervalMs: 500, windowRounds: 20, graceMs: 60_000, bandwidthBytesPerSec: 2 ** 30, downtimeMs: 300, backend: 'auto' });
    expect(parseServeArgs(['--tree', '12', '--match', 'a', '--match', 'b']).targets).toEqual([{ kind: 'match', pattern: 'a' }, { kind: 'match', pattern: 'b' }, { kind: 'tree', pid: 12 }]);
    expect(() => parseServeArgs([])).toThrow(/at least one target/);
    expect(() => parseServeArgs(['--match', '('])).toThrow(/invalid --match/);
    expect(() => parseServeArgs(['0'])).toThrow(/invalid pid/);
  });
});

describe('series lifecycle', () => {
  const labels = { pid: 7, comm: 'w', backend: 'uffd-wp', cgroup: '' };
  const round: TargetReport = { kind: 'round', labels, dirtyPages: 10, pageSize: 4096, dirtyBytesPerSec: 40960, workingSetPages: 10, hotSetPages: 3, scanSeconds: 0.01, pauseSeconds: 0 };
  const series = async (m: ServeMetrics) => (await m.text()).split('\n').filter((l) => l.startsWith('dirtytrack_') && l.includes('pid="7"'));

  it('an exited target keeps only up 0 for the grace time, then nothing', async () => {
    let now = 0;
    const m = new ServeMetrics(5000, () => now);
    m.apply([{ kind: 'armed', labels }]);
    m.apply([round]);
    expect(await series(m)).toContain('dirtytrack_dirty_bytes_per_second{pid="7",comm="w",backend="uffd-wp",cgroup=""} 40960');
    m.apply([{ kind: 'gone', labels }]);
    expect(await series(m)).toEqual(['dirtytrack_up{pid="7",comm="w",backend="uffd-wp",cgroup=""} 0']);
    now = 4999;
    expect(await series(m)).toHaveLength(1);
    now = 5000;
    expect(await series(m)).toEqual([]);
  });

  it('an untrackable target is up 0 and counts its reason; a later success replaces its labels', async () => {
    const m = new ServeMetrics(5000, () => 0);
    m.apply([{ kind: 'error', labels: { ...labels, backend: '' }, reason: 'busy', message: 'traced', final: false }]);
    const text = await m.text();
    expect(text).toContain('dirtytrack_errors_total{reason="busy"} 1');
    expect(text).toContain('dirtytrack_errors_total{reason="permission"} 0');
    expect(await series(m)).toEqual(['dirtytrack_up{pid="7",comm="w",backend="",cgroup=""} 0']);
    m.apply([{ kind: 'armed', labels }]);
    expect(await series(m)).toEqual(['dirtytrack_up{pid="7",comm="w",backend="uffd-wp",cgroup=""} 1']);
  });
});

describe('discovery', () => {
  const find = (specs: TargetSpec[], exclude = new Set<number>()) => new Discovery(specs, exclude).find();

  it('--match finds processes by command line but never this process or its ancestors; each pid once', () => {
    const self = selfAndAncestors();
    expect(self.has(process.pid)).toBe(true);
    expect(find([{ kind: 'match', pattern: 'vitest|node' }]).some((d) => d.pid === process.pid)).toBe(true);
    expect(find([{ kind: 'match', pattern: 'vitest|node' }], self).some((d) => self.has(d.pid))).toBe(false);
    expect(find([{ kind: 'pid', pid: process.pid }, { kind: 'match', pattern: 'vitest|node' }]).filter((d) => d.pid === process.pid)).toHaveLength(1);
    expect(find([{ kind: 'match', pattern: '.' }]).some((d) => d.pid === 2 && d.comm === 'kthreadd')).toBe(false); // kernel threads have no cmdline
  });

  it('--tree follows children that appear later; --cgroup labels each process with its cgroup', async () => {
    const sh = spawn('sh', ['-c', 'sleep 30 & read x'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const group = `dirtytrack-serve-test-${process.pid}`;
    const dir = join(findCgroup('/'), group);
    mkdirSync(dir);
    const member = spawn('sleep', ['30'], { stdio: 'ignore' });
    let found: number[] = [];
    try {
      const tree = new Discovery([{ kind: 'tree', pid: sh.pid! }], new Set());
      for (let i = 0; i < 50 && found.length < 2; i++, await delay(20)) found = tree.find().map((d) => d.pid);
      expect(found[0]).toBe(sh.pid);
      expect(found).toHaveLength(2); // sh and its sleep
      writeFileSync(join(dir, 'cgroup.procs'), String(member.pid));
      const inGroup = find([{ kind: 'cgroup', path: group }]);
      expect(inGroup).toEqual([{ pid: member.pid, comm: 'sleep', cgroup: `/${group}` }]);
    } finally {
      for (const pid of found) if (pid !== sh.pid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      sh.kill('SIGKILL');
      member.kill('SIGKILL');
      await delay(100);
      rmdirSync(dir);
    }
  });
});
