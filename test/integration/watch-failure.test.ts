// Issue 9 §6: an error mid-watch keeps its code. A tracker that loses the right to read its target in
// round 3 ends with reason `failed`, the error in the summary, and the permission exit code (4); what it
// could not remove from the target it names, with the way to remove it.
import { spawn } from 'node:child_process';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { fixture } from '../native/helpers.js';
import { dirtytrack, ROOT } from '../helpers/cli.js';
import { findTrackerUffds } from '../../src/backends/uffd-wp/target-fd.js';

const NOBODY = 65534;

describe('an error mid-watch', () => {
  it('permission lost in a later round: reason failed, error in the summary, exit 4, no stack', async () => {
    const target = spawn(fixture('undumpable'), [], { uid: NOBODY, gid: NOBODY, stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      await new Promise((r) => target.once('spawn', r));
      // An unprivileged tracker of its own user's process: the ptrace rights end when the target turns non-dumpable.
      const cli = execa('runuser', ['-u', 'nobody', '--', process.execPath, '--import', 'tsx', 'src/cli/bin.ts',
        'watch', String(target.pid), '--json', '--interval', '50ms', '--stable', '10000', '--max-rounds', '1000', '--backend', 'uffd-wp'],
      { reject: false, cwd: ROOT });
      let rounds = 0;
      cli.stdout!.on('data', (d: Buffer) => {
        rounds += (d.toString().match(/"round":/g) ?? []).length;
        if (rounds >= 2) target.stdin!.write('now\n');
      });
      const r = await cli;
      expect(r.exitCode, r.stderr).toBe(4);
      const done = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
      expect(done).toMatchObject({ done: true, reason: 'failed', error: expect.stringMatching(/^permission denied: /) });
      expect(done.rounds).toBeGreaterThanOrEqual(2);
      expect(r.stderr).toMatch(/^dirtytrack: permission denied: /m);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      // Without the right to trace the target any more, the tracker cannot take its userfaultfd out: it says
      // so, and how; root can.
      expect(done.leftInTarget).toMatch(/permission denied|not permitted/);
      expect(r.stderr).toMatch(new RegExp(`^dirtytrack: tracking could not be removed from ${target.pid} .*'dirtytrack detach ${target.pid}' as root$`, 'm'));
      expect(findTrackerUffds(target.pid!)).toHaveLength(1);
      expect((await dirtytrack('detach', String(target.pid))).code).toBe(0);
      expect(findTrackerUffds(target.pid!)).toEqual([]);
    } finally {
      target.kill('SIGKILL');
    }
  });
});
