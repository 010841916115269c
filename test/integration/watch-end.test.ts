// Issue 9 §4 and §6: however a watch ends (signal, closed stdout, full disk, exec), what was measured is
// summarised, the exit code is the documented one, and no tracking is left armed in the target.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Target } from '../../experiments/lib/target.js';
import { findTrackerUffds } from '../../src/backends/uffd-wp/target-fd.js';
import { dirtytrack, dirtytrackProcess } from '../helpers/cli.js';

const noStack = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at /);

/** A free-running writer; `check` runs against it, then it is asked whether it still runs and holds no tracker. */
async function withWriter(check: (pid: number) => Promise<void>) {
  const target = await Target.spawn('rate-writer', ['--pages', '512', '--rate', '5000']);
  try {
    await target.command('start');
    await check(target.pid);
    expect((await target.command('status')).running).toBe(true);
    expect(findTrackerUffds(target.pid)).toEqual([]);
  } finally {
    await target.exit();
  }
}

/** Start `watch PID --json`, wait for `rounds` rounds on stdout, then call `then`. */
async function watchUntil(pid: number, rounds: number, then: (cli: ReturnType<typeof dirtytrackProcess>) => void, extra: string[] = []) {
  const cli = dirtytrackProcess(['watch', String(pid), '--json', '--interval', '50ms', '--max-rounds', '100000', '--stable', '10000', '--timeout', '10m', ...extra]);
  let seen = 0;
  let fired = false;
  cli.stdout!.on('data', (d: Buffer) => {
    seen += (d.toString().match(/"round":/g) ?? []).length;
    if (seen >= rounds && !fired) {
      fired = true;
      then(cli);
    }
  });
  return cli;
}

describe('watch ends cleanly', () => {
  for (const [signal, code] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    it(`${signal}: rounds flushed and summarised, exit ${code}`, async () => {
      await withWriter(async (pid) => {
        const r = await watchUntil(pid, 2, (cli) => cli.kill(signal));
        expect(r.exitCode).toBe(code);
        const lines = String(r.stdout).trim().split('\n').map((l) => JSON.parse(l));
        const done = lines.at(-1);
        expect(done).toMatchObject({ done: true, reason: 'interrupted', interruptedBy: signal });
        expect(done.rounds).toBeGreaterThanOrEqual(2);
        expect(lines.filter((l) => 'round' in l)).toHaveLength(done.rounds);
        expect(String(r.stderr)).toBe('');
      });
    });
  }

  it('a closed stdout (watch | head -1) ends it like Ctrl-C: summary on stderr, exit 141, no stack', async () => {
    await withWriter(async (pid) => {
      const r = await watchUntil(pid, 1, (cli) => cli.stdout!.destroy());
      expect(r.exitCode).toBe(141);
      const stderr = String(r.stderr);
      noStack(stderr);
      expect(stderr).toMatch(/^stopped: interrupted after \d+ rounds/m);
      expect(stderr).toMatch(/^dirtytrack: cannot write stdout \(EPIPE\): watch stopped after \d+ rounds, tracking removed$/m);
    });
  });

  it('scan into a closed pipe: exit 141, nothing on stderr', async () => {
    await withWriter(async (pid) => {
      const cli = dirtytrackProcess(['scan', String(pid), '--verbose']);
      cli.stdout!.destroy();
      const r = await cli;
      expect(r.exitCode).toBe(141);
      expect(String(r.stderr)).toBe('');
      // scan leaves uffd-wp tracking armed for the next scan, as documented; detach takes it out
      expect((await dirtytrack('detach', String(pid))).code).toBe(0);
    });
  });

  it('--out /dev/full: ends at round 1 with the summary on stdout, exit 7', async () => {
    await withWriter(async (pid) => {
      const r = await dirtytrack('watch', String(pid), '--interval', '50ms', '--max-rounds', '50', '--out', '/dev/full');
      expect(r.code).toBe(7);
      noStack(r.stderr);
      expect(r.stdout).toMatch(/^round +1 /m);
      expect(r.stdout).not.toMatch(/^round +2 /m);
      expect(r.stdout).toMatch(/^stopped: interrupted after 1 rounds/m);
      expect(r.stderr).toBe('dirtytrack: cannot write /dev/full (ENOSPC): watch stopped after 1 rounds, tracking removed');
    });
  });

  it('exec during a watch: its own reason, the rounds of the old image kept, exit 0', async () => {
    // sh waits for a line, then replaces itself: tracking of the old image ends there
    const child = spawn('sh', ['-c', 'read line; exec sleep 30'], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      await new Promise((r) => child.once('spawn', r));
      const r = await watchUntil(child.pid!, 2, () => child.stdin!.write('go\n'));
      expect(r.exitCode, String(r.stderr)).toBe(0);
      const lines = String(r.stdout).trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.at(-1)).toMatchObject({ done: true, reason: 'exec' });
      expect(lines.at(-1).rounds).toBeGreaterThanOrEqual(2);
      expect(readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim()).toBe('sleep');
      expect(findTrackerUffds(child.pid!)).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('--out is checked before the target is touched', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dirtytrack-out-'));
  const cases: Array<[string, string, number, RegExp]> = [
    ['a directory', dir, 2, /invalid --out '.*': is a directory/],
    ['a missing directory', join(dir, 'no/such/file.jsonl'), 2, /invalid --out '.*': no directory/],
    ['an unwritable file', '/proc/sys/kernel/osrelease', 4, /permission denied: cannot write --out \/proc\/sys\/kernel\/osrelease/],
    ['empty', '', 2, /invalid --out '': expected a file name/],
  ];
  for (const [what, path, code, message] of cases) {
    it(`${what}: exit ${code}, one line, before the pid is even looked at`, async () => {
      const r = await dirtytrack('watch', '4194303', '--out', path);
      expect(r.code).toBe(code);
      expect(r.stderr.split('\n')[0]).toMatch(message);
      noStack(r.stderr);
    });
  }
  it('an existing file is not emptied when the pid turns out not to exist', async () => {
    const file = join(dir, 'kept.jsonl');
    writeFileSync(file, '{"kept":true}\n');
    const r = await dirtytrack('watch', '4194303', '--out', file);
    expect(r.code).toBe(3);
    expect(readFileSync(file, 'utf8')).toBe('{"kept":true}\n');
  });
});
