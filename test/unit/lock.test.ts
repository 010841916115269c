import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockTarget } from '../../src/proc/lock.js';
import { startTime } from '../../src/proc/process.js';

const root = mkdtempSync(join(tmpdir(), 'dirtytrack-lock-test-'));
const children: ChildProcess[] = [];

async function sleeper(): Promise<number> {
  const c = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(c);
  await new Promise((r) => c.once('spawn', r));
  return c.pid!;
}

beforeAll(() => { process.env.DIRTYTRACK_LOCK_DIR = root; });
afterAll(() => {
  delete process.env.DIRTYTRACK_LOCK_DIR;
  for (const c of children) c.kill('SIGKILL');
});

describe('one tracker per target', () => {
  it('a second lock on a held target is refused, naming the holder; released, it can be taken again', async () => {
    const target = await sleeper();
    const lock = lockTarget(target);
    expect(() => lockTarget(target)).toThrow(expect.objectContaining({ code: 'ELOCKED', pid: target, message: expect.stringMatching(/already tracked by this process/) }));
    lock.release();
    lock.release(); // twice is harmless
    const again = lockTarget(target);
    again.release();
    expect(readdirSync(root)).toEqual([]); // the last holder removes the target's directory
  });

  it('another live holder blocks, by its pid', async () => {
    const target = await sleeper();
    const other = await sleeper();
    const dir = join(root, `${target}-${startTime(target)}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${other}-${startTime(other)}`), '');
    expect(() => lockTarget(target)).toThrow(expect.objectContaining({ code: 'ELOCKED', message: `${target} is already tracked by dirtytrack pid ${other}: two trackers would reset each other's rounds; wait for it to end` }));
    // the refused newcomer leaves nothing behind
    expect(readdirSync(dir)).toEqual([`${other}-${startTime(other)}`]);
  });

  it('a stale holder never blocks: dead, or its pid reused by a later process', async () => {
    const target = await sleeper();
    const reused = await sleeper();
    const dir = join(root, `${target}-${startTime(target)}`);
    mkdirSync(dir, { recursive: true });
    const dead = join(dir, '4194303-1');
    const wrongStart = join(dir, `${reused}-${startTime(reused) - 1}`);
    writeFileSync(dead, '');
    writeFileSync(wrongStart, '');
    const lock = lockTarget(target);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(wrongStart)).toBe(false);
    lock.release();
  });

  it('a lock names the process, not the pid: a lock left for an earlier process with this pid does not count', async () => {
    const target = await sleeper();
    const other = await sleeper();
    const dir = join(root, `${target}-${startTime(target) - 1}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${other}-${startTime(other)}`), '');
    lockTarget(target).release();
  });

  it('directories of targets that are gone are swept by the next lock', async () => {
    const gone = join(root, '4194303-7');
    mkdirSync(gone, { recursive: true });
    writeFileSync(join(gone, '4194302-1'), '');
    const target = await sleeper();
    lockTarget(target).release();
    expect(existsSync(gone)).toBe(false);
  });

  it('no such process: ESRCH, no lock left', () => {
    expect(() => lockTarget(4194303)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  });
});
