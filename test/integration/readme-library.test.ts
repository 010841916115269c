// The README's library example, run as written (its import pointed at src/) against a real writer.
import { execa } from 'execa';
import { readmeExampleFile } from '../helpers/readme.js';
import { describe, expect, it } from 'vitest';
import { Target } from '../../experiments/lib/target.js';
import { ROOT } from '../helpers/cli.js';
import { findTrackerUffds } from '../../src/backends/uffd-wp/target-fd.js';

describe('README library example', () => {
  it('opens, clears, scans and closes, then watches with onRound; the target is left untracked', async () => {
    const file = readmeExampleFile('## Library');
    const target = await Target.spawn('rate-writer', ['--pages', '256', '--rate', '2000']);
    try {
      await target.command('start');
      const r = await execa(process.execPath, ['--import', 'tsx', file, String(target.pid)], { reject: false, cwd: ROOT });
      expect(r.exitCode, r.stderr).toBe(0);
      const out = r.stdout.split('\n');
      // 0.5 s at 2000 pages/s over 256 pages: the writer's region is rewritten, so well over 100 pages
      expect(Number(/^(\d+) pages written in 0\.5 s/.exec(out[0])?.[1])).toBeGreaterThan(100);
      expect(out.filter((l) => /^round \d+: \d+ pages, \d+ new$/.test(l)).length).toBeGreaterThan(0);
      expect(out.at(-1)).toMatch(/^stopped: (converged|max-rounds); working set \d+ pages$/);
      expect((await target.command('status')).running).toBe(true);
      expect(findTrackerUffds(target.pid)).toEqual([]);
    } finally {
      await target.exit();
    }
  });

  it('a pid with no process: the example reports ESRCH and exits 3', async () => {
    const file = readmeExampleFile('## Library');
    const r = await execa(process.execPath, ['--import', 'tsx', file, '4194303'], { reject: false, cwd: ROOT });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/^ESRCH: no such process: 4194303/);
  });
});

describe('openBackend validates its arguments', () => {
  it('a wrong choice or pid is EINVAL, never undefined', async () => {
    const { openBackend } = await import('../../src/index.js');
    for (const [pid, choice] of [[process.pid, { backend: 'auto' }], [process.pid, 'magic'], [0, 'auto'], [4194304, 'auto'], [1.5, 'auto'], [NaN, 'auto']] as const) {
      expect(() => openBackend(pid as number, choice as never)).toThrow(expect.objectContaining({ code: 'EINVAL', message: expect.stringMatching(/^openBackend: /) }));
    }
  });
});
