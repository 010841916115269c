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
  it('a pid above the largest Linux hands out (4194303) is a usage error', async () => {
    expectCleanError(await dirtytrack('scan', '4194304'), 2, /pids range from 1 to 4194303/);
  });
  it('detach and doctor refuse extra arguments', async () => {
    expectCleanError(await dirtytrack('detach', '5', '6', '7'), 2, /unexpected argument '6'/);
    expectCleanError(await dirtytrack('doctor', '5', '6'), 2, /unexpected argument '6'/);
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
  // Each is checked before the pid: 4194303 has no process, so reaching the target would be exit 3.
  const refused: Array<[string[], RegExp]> = [
    [['--interval', String(2 ** 31)], /invalid --interval '2147483648': at most 2147483647 ms/],
    [['--timeout', '35792m'], /invalid --timeout '35792m': at most 2147483647 ms/],
    [['--tolerance', '1'], /invalid --tolerance '1': expected a percentage below 100 such as 5%, or a fraction below 1/],
    [['--tolerance', '2'], /invalid --tolerance '2'/],
    [['--tolerance', ''], /invalid --tolerance ''/],
    [['--bandwidth', '0'], /invalid --bandwidth '0': must be greater than zero/],
    [['--out', ''], /invalid --out ''/],
    [['--max-rounds', ''], /invalid --max-rounds ''/],
  ];
  for (const [args, message] of refused) {
    it(`watch ${args.join(' ')} is a usage error`, async () => {
      expectCleanError(await dirtytrack('watch', '4194303', ...args), 2, message);
    });
  }
});
