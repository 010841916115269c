import { describe, expect, it } from 'vitest';
import { dirtytrack } from '../helpers/cli.js';

/** Every bad input: one line on stderr (plus the usage hint), no stack trace, a documented exit code. */
function expectCleanError(r: { code?: number; stderr: string }, code: number, pattern: RegExp) {
  expect(r.code).toBe(code);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.split('\n')[0]).toMatch(/^dirtytrack: /);
}

describe('command-line errors', () => {
  it('no command prints usage and exits 2', async () => {
    const r = await dirtytrack();
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/usage: dirtytrack/);
  });
  it('--help exits 0', async () => {
    expect((await dirtytrack('--help')).code).toBe(0);
  });
  it('unknown command', async () => {
    expectCleanError(await dirtytrack('frobnicate'), 2, /unknown command 'frobnicate'/);
  });
  it('missing pid', async () => {
    expectCleanError(await dirtytrack('scan'), 2, /missing pid/);
  });
  for (const bad of ['abc', '-5', '12x', '1.5', '0', '99999999999999999999']) {
    it(`pid '${bad}' is a usage error`, async () => {
      expectCleanError(await dirtytrack('scan', '--', bad), 2, /invalid pid/);
    });
  }
  it('a pid above PID_MAX_LIMIT is a usage error', async () => {
    expectCleanError(await dirtytrack('scan', '4194305'), 2, /pids range from 1 to 4194304/);
  });
  it('unknown option', async () => {
    expectCleanError(await dirtytrack('scan', '1', '--bogus'), 2, /bogus/);
  });
  it('unknown backend', async () => {
    expectCleanError(await dirtytrack('scan', '1', '--backend', 'magic'), 2, /invalid --backend 'magic'/);
  });
  it('a pid with no process is exit 3', async () => {
    expectCleanError(await dirtytrack('scan', '4194303', '--backend', 'uffd-wp'), 3, /no such process: 4194303/);
    expectCleanError(await dirtytrack('doctor', '4194303'), 3, /no such process/);
  });
  it('watch rejects bad durations and tolerances', async () => {
    expectCleanError(await dirtytrack('watch', '1', '--interval', 'soon'), 2, /invalid --interval 'soon'/);
    expectCleanError(await dirtytrack('watch', '1', '--stable', '0'), 2, /invalid --stable/);
  });
});
