// ptrace system-call injection (src/backends/uffd-wp/inject.ts, src/native/inject.c) into live targets.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { DirtyTrackError } from '../../src/errors.js';
import { findSyscallInstruction, injectSyscall, SYS } from '../../src/backends/uffd-wp/inject.js';
import { tracerOf } from '../../src/proc/process.js';
import { readMaps } from '../../src/proc/maps.js';
import { readMem } from './helpers.js';
import { exitAll, fixture, processState, sleep, spawnTarget } from './helpers.js';

const SYS_getpid = 39;
const SYS_gettid = 186;

afterEach(exitAll);

describe('injectSyscall', () => {
  it('finds a syscall instruction in the vDSO: nothing in the target is written', async () => {
    const t = await spawnTarget('stride-writer', ['--pages', '16', '--stride', '2']);
    const at = findSyscallInstruction(t.pid);
    const vdso = readMaps(t.pid).find((r) => r.path === '[vdso]')!;
    expect(at >= vdso.start && at < vdso.end).toBe(true);
    expect([...readMem(t.pid, at, 2)]).toEqual([0x0f, 0x05]);
  });

  it('runs a call in a target blocked in read(2), which then restarts its read and carries on', async () => {
    const t = await spawnTarget('stride-writer', ['--pages', '64', '--stride', '3']);
    for (let i = 0; i < 20; i++) {
      expect(injectSyscall(t.pid, SYS_getpid)).toBe(BigInt(t.pid));
      expect((await t.write()).size).toBeGreaterThan(0); // the interrupted read restarted and got the command
    }
    expect(injectSyscall(t.pid, SYS.close, [12345n])).toBe(-9n); // EBADF, returned as the raw result
    expect(tracerOf(t.pid)).toBe(0);
    expect((await t.write()).size).toBeGreaterThan(0);
  });

  it('a target sleeping in clock_nanosleep resumes the same sleep (ERESTART_RESTARTBLOCK) and exits on time', async () => {
    const child = spawn('sleep', ['0.6']);
    const started = Date.now();
    await sleep(150);
    expect(injectSyscall(child.pid!, SYS_getpid)).toBe(BigInt(child.pid!));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    const elapsed = Date.now() - started;
    expect(code).toBe(0);
    expect(elapsed).toBeGreaterThanOrEqual(590); // not cut short
    expect(elapsed).toBeLessThan(5000); // not hung
  });

  it('multi-threaded target: the call runs in the thread-group leader while the writer thread keeps writing', async () => {
    const t = await spawnTarget('rate-writer', ['--pages', '4096', '--rate', '100000']);
    await t.command('start');
    const before = (await t.command('status')).writes as number;
    for (let i = 0; i < 10; i++) expect(injectSyscall(t.pid, SYS_gettid)).toBe(BigInt(t.pid));
    await sleep(50);
    const after = (await t.command('status')).writes as number;
    expect(after).toBeGreaterThan(before);
    await t.command('stop');
  });

  it('a stopped target (SIGSTOP) gets the call and stays stopped; SIGCONT resumes it', async () => {
    const t = await spawnTarget('stride-writer', ['--pages', '64', '--stride', '3']);
    process.kill(t.pid, 'SIGSTOP');
    while (processState(t.pid) !== 'T') await sleep(5);
    expect(injectSyscall(t.pid, SYS_getpid)).toBe(BigInt(t.pid));
    await sleep(50);
    expect(processState(t.pid)).toBe('T');
    process.kill(t.pid, 'SIGCONT');
    expect((await t.write()).size).toBeGreaterThan(0);
  });

  it('an already traced target: EBUSY naming the tracer, target untouched', async () => {
    const t = await spawnTarget('stride-writer', ['--pages', '64', '--stride', '3']);
    const tracer = spawn(fixture('tracer'), [String(t.pid)], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await new Promise<string>((r) => tracer.stdout!.once('data', (d: Buffer) => r(d.toString())));
      expect(line.trim()).toBe('seized');
      let err: unknown;
      try {
        injectSyscall(t.pid, SYS_getpid);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DirtyTrackError);
      expect(err).toMatchObject({ code: 'EBUSY' });
      expect((err as Error).message).toContain(`traced by pid ${tracer.pid}`);
      expect((await t.write()).size).toBeGreaterThan(0);
    } finally {
      tracer.kill('SIGKILL');
    }
  });

  it('a process that does not exist: ESRCH', () => {
    expect(() => injectSyscall(2 ** 22 + 4321, SYS_getpid)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  });

  it('refuses to inject into the tracker itself', () => {
    expect(() => injectSyscall(process.pid, SYS_getpid)).toThrow(expect.objectContaining({ code: 'EPERM' }));
  });
});
