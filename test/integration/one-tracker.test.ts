// Issue 9 §3: a second tracker on a process someone tracks is refused (exit 6, naming the holder); the lock dies with its holder.
import { describe, expect, it } from 'vitest';
import { Target } from '../../experiments/lib/target.js';
import { dirtytrack, dirtytrackProcess } from '../helpers/cli.js';

/** A `watch --json` of target running until killed; resolves once its first round is out. */
async function holdingWatch(pid: number) {
  const cli = dirtytrackProcess(['watch', String(pid), '--json', '--interval', '50ms', '--max-rounds', '100000', '--stable', '10000', '--timeout', '10m']);
  await new Promise<void>((resolve, reject) => {
    cli.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('"round":')) resolve(); });
    cli.then((r) => reject(new Error(`watch ended early: ${r.exitCode} ${r.stderr}`)), reject);
  });
  return { cli };
}

describe('one tracker per process', () => {
  it('scan, clear, detach and a second watch on a watched process exit 6 naming the watch; after it, they work', async () => {
    const target = await Target.spawn('rate-writer', ['--pages', '256', '--rate', '2000']);
    try {
      await target.command('start');
      const { cli: watch } = await holdingWatch(target.pid);
      const holder = watch.pid!;
      for (const args of [['scan'], ['clear'], ['detach'], ['watch', '--max-rounds', '2']]) {
        const r = await dirtytrack(args[0], String(target.pid), ...args.slice(1));
        expect(r.code, `${args[0]}: ${r.stderr}`).toBe(6);
        expect(r.stderr).toBe(`dirtytrack: ${target.pid} is already tracked by dirtytrack pid ${holder}: two trackers would reset each other's rounds; wait for it to end`);
        expect(r.stdout).toBe('');
      }
      const doctor = await dirtytrack('doctor', String(target.pid), '--json');
      expect(doctor.code).toBe(0);
      expect(JSON.parse(doctor.stdout).process).toMatchObject({ trackedBy: holder });
      watch.kill('SIGTERM');
      const ended = await watch;
      expect(ended.exitCode).toBe(143);
      // The watch's rounds went on undisturbed: every round it printed is in its summary.
      const lines = String(ended.stdout).trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.at(-1)).toMatchObject({ done: true, reason: 'interrupted' });
      expect(lines.filter((l) => 'round' in l)).toHaveLength(lines.at(-1).rounds);
      expect(JSON.parse((await dirtytrack('doctor', String(target.pid), '--json')).stdout).process.trackedBy).toBeUndefined();
      const after = await dirtytrack('scan', String(target.pid), '--json');
      expect(after.code, after.stderr).toBe(0);
      expect((await target.command('status')).running).toBe(true);
    } finally {
      await target.exit();
    }
  });

  it('a tracker killed with SIGKILL leaves a stale lock that does not block the next one', async () => {
    const target = await Target.spawn('rate-writer', ['--pages', '256', '--rate', '2000']);
    try {
      await target.command('start');
      const { cli: watch } = await holdingWatch(target.pid);
      watch.kill('SIGKILL');
      await watch;
      const r = await dirtytrack('watch', String(target.pid), '--json', '--interval', '50ms', '--max-rounds', '2');
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toMatchObject({ done: true, reason: 'max-rounds', rounds: 2 });
      expect((await target.command('status')).running).toBe(true);
    } finally {
      await target.exit();
    }
  });
});
