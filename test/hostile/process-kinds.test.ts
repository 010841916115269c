// Issue 9 §6 (process side): a thread id, a kernel thread, a process whose main thread has exited,
// a 32-bit program. Each gets a true reason and its documented exit code, and a live process is tracked.
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive, liveThread, memDir } from '../../src/proc/process.js';
import { readMaps } from '../../src/proc/maps.js';
import { dirtytrack } from '../helpers/cli.js';
import { spawnTarget } from '../native/helpers.js';
import { exitAll, expectTrackedExactly, expectUnharmed, jsonPagesIn, pagesIn, processState, sleep, spawnHostile, uffdInodes } from './helpers.js';

afterEach(exitAll);

describe('what a pid names', () => {
  it('a thread id: "N is a thread of process M", exit 2', async () => {
    const t = await spawnTarget('rate-writer', ['--pages', '64', '--rate', '100']);
    await t.command('start'); // starts the writer thread
    const tid = readdirSync(`/proc/${t.pid}/task`).map(Number).find((x) => x !== t.pid)!;
    for (const cmd of ['scan', 'clear']) {
      const r = await dirtytrack(cmd, String(tid));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${tid} is a thread of process ${t.pid}`);
      expect(r.stderr).not.toMatch(/pidfd_open|at .*\.ts/);
    }
    expect(uffdInodes(t.pid)).toEqual([]);
    await t.command('stop');
  });

  it('a kernel thread (kthreadd): "has no user memory", exit 2', async () => {
    const r = await dirtytrack('scan', '2');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/2 is a kernel thread \(kthreadd\): it has no user memory/);
  });

  it('a 32-bit program: a missing capability of the uffd-wp backend, exit 5, untouched', async () => {
    const t = await spawnHostile('elf32');
    const r = await dirtytrack('scan', String(t.pid), '--backend', 'uffd-wp');
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`${t.pid} is a 32-bit program`);
    expect(processState(t.pid)).toBe('S');
    expect(uffdInodes(t.pid)).toEqual([]);
    const gone = new Promise((r) => t.child.once('exit', r));
    t.kill(); // it reads no commands
    await gone;
  });
});

describe('a process whose main thread has exited', () => {
  it('is alive, its memory is read through a live thread, and it is tracked exactly', async () => {
    const t = await spawnHostile('leader-exit');
    for (let i = 0; i < 200 && processState(t.pid) !== 'Z'; i++) await sleep(5);
    expect(processState(t.pid)).toBe('Z'); // the leader is a zombie …
    expect(isAlive(t.pid)).toBe(true); // … the process is not
    const tid = liveThread(t.pid)!;
    expect(tid).not.toBe(t.pid);
    expect(memDir(t.pid)).toBe(`/proc/${t.pid}/task/${tid}`);
    expect(readMaps(t.pid).some((r) => r.start <= t.region().start && r.end > t.region().start)).toBe(true);

    await expectTrackedExactly(t);
  });

  it('the CLI clears and scans it (exit 0) and detach removes what clear left', async () => {
    const t = await spawnHostile('leader-exit');
    for (let i = 0; i < 200 && processState(t.pid) !== 'Z'; i++) await sleep(5);
    expect((await dirtytrack('clear', String(t.pid), '--backend', 'uffd-wp')).code).toBe(0);
    const truth = await t.write();
    const r = await dirtytrack('scan', String(t.pid), '--backend', 'uffd-wp', '--json');
    expect(r.code).toBe(0);
    expect(jsonPagesIn(t, JSON.parse(r.stdout))).toEqual(truth);
    expect(uffdInodes(t.pid)).toHaveLength(1); // scan releases: tracking stays armed
    expect((await dirtytrack('detach', String(t.pid))).code).toBe(0);
    expect(uffdInodes(t.pid)).toEqual([]);
    await expectUnharmed(t);
  });

  it('watch runs its rounds on it: the process has not exited, nor exec\'d', async () => {
    const t = await spawnHostile('leader-exit');
    for (let i = 0; i < 200 && processState(t.pid) !== 'Z'; i++) await sleep(5);
    const r = await dirtytrack('watch', String(t.pid), '--backend', 'uffd-wp', '--max-rounds', '2', '--interval', '50ms', '--json');
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ done: true, rounds: 2 });
    expect(summary.reason).not.toMatch(/exited|exec|failed/);
    expect(uffdInodes(t.pid)).toEqual([]);
    await expectUnharmed(t);
  });
});
