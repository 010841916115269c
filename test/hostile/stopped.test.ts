// Issue 9 §5: a process the user stopped stays stopped. freeze() remembers what it found; thaw()
// resumes only what freeze() stopped itself.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { freeze, thaw } from '../../src/proc/freeze.js';
import { isStopped } from '../../src/proc/process.js';
import { exitAll, fixture, processState, sleep, spawnTarget } from '../native/helpers.js';

afterEach(exitAll);

async function stopped(pid: number, letter: string): Promise<void> {
  for (let i = 0; i < 400 && processState(pid) !== letter; i++) await sleep(5);
  expect(processState(pid)).toBe(letter);
}

describe('freeze and thaw', () => {
  it('a running process is stopped and resumed', async () => {
    const t = await spawnTarget('rate-writer', ['--pages', '256', '--rate', '20000']);
    await t.command('start');
    expect(freeze(t.pid)).toBe(true);
    expect(isStopped(t.pid)).toBe(true); // every thread, the writer too
    thaw(t.pid);
    const before = (await t.command('status')).writes as number; // answers: running again
    await sleep(50);
    expect((await t.command('status')).writes as number).toBeGreaterThan(before);
    await t.command('stop');
  });

  it('a process stopped by SIGSTOP (job control) is frozen as it is and stays stopped after thaw', async () => {
    const t = await spawnTarget('stride-writer', ['--pages', '64', '--stride', '3']);
    process.kill(t.pid, 'SIGSTOP');
    await stopped(t.pid, 'T');
    expect(freeze(t.pid)).toBe(false);
    thaw(t.pid);
    await sleep(100);
    expect(processState(t.pid)).toBe('T');
    process.kill(t.pid, 'SIGCONT');
    expect((await t.write()).size).toBeGreaterThan(0);
  });

  it('a process a debugger holds stopped (t) gets no signal and stays stopped', async () => {
    const t = await spawnTarget('stride-writer', ['--pages', '64', '--stride', '3']);
    const tracer = spawn(fixture('tracer'), [String(t.pid), 'stop'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await new Promise<string>((r) => tracer.stdout!.once('data', (d: Buffer) => r(d.toString())));
      expect(line.trim()).toBe('stopped');
      await stopped(t.pid, 't');
      const pendingBefore = sigPending(t.pid);
      expect(freeze(t.pid)).toBe(false);
      thaw(t.pid);
      await sleep(100);
      expect(processState(t.pid)).toBe('t');
      expect(sigPending(t.pid)).toBe(pendingBefore); // no SIGSTOP or SIGCONT queued for the debugger to see
    } finally {
      tracer.kill('SIGKILL');
      await new Promise((r) => tracer.once('exit', r));
    }
    expect((await t.write()).size).toBeGreaterThan(0); // the kernel detached it: running again
  });
});

/** Shared pending signals of `pid` (ShdPnd) plus its own (SigPnd). */
function sigPending(pid: number): string {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return ['SigPnd', 'ShdPnd'].map((f) => new RegExp(`^${f}:\\s*(\\S+)`, 'm').exec(status)?.[1]).join('/');
}

