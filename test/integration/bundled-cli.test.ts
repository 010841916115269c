// The installed command is the esbuild bundle (package.json bin, scripts/bundle-cli.mjs), not the modules
// the other tests run through tsx: it must answer as they do, load the addon, and start serve's worker.
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Target } from '../../experiments/lib/target.js';
import { dirtytrack, ROOT } from '../helpers/cli.js';
import { jsonPagesIn, uffdInodes } from '../hostile/helpers.js';
import { exitAll, spawnTarget } from '../native/helpers.js';
import { startServe, stop, until } from '../serve/harness.js';

const BUNDLE = ROOT + (JSON.parse(readFileSync(ROOT + 'package.json', 'utf8')) as { bin: { dirtytrack: string } }).bin.dirtytrack;

/** The bundle run as npm's bin link runs it: the file itself (its shebang, its executable bit). */
async function bundled(...args: string[]) {
  const r = await execa(BUNDLE, args, { reject: false, cwd: ROOT, timeout: 60_000 });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

let target: Target;
beforeAll(async () => {
  await execa('npm', ['run', '-s', 'build'], { cwd: ROOT }); // the bundle of this checkout's source, never a stale one
  target = await spawnTarget('stride-writer', ['--pages', '64', '--stride', '3']);
});
afterAll(exitAll);

describe('the bundled command (dist/cli/dirtytrack.cjs)', () => {
  it('is what package.json installs, and --help prints the usage', async () => {
    expect(BUNDLE).toMatch(/\/dist\/cli\/dirtytrack\.cjs$/);
    const r = await bundled('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: dirtytrack <command>/);
  });

  it('doctor --json agrees with the source, addon and kernel config included', async () => {
    const [mine, source] = [await bundled('doctor', '--json'), await dirtytrack('doctor', '--json')];
    expect(mine.code, mine.stderr).toBe(0);
    expect(JSON.parse(mine.stdout)).toEqual(JSON.parse(source.stdout));
  });

  it('scan reports exactly the pages the target wrote, as the source does', async () => {
    const pid = String(target.pid);
    expect((await bundled('clear', pid)).code).toBe(0);
    const truth = await target.write();
    expect(truth.size).toBeGreaterThan(0);
    const mine = await bundled('scan', pid, '--json');
    expect(mine.code, mine.stderr).toBe(0);
    const source = await dirtytrack('scan', pid, '--json');
    expect(source.code, source.stderr).toBe(0);
    expect(jsonPagesIn(target, JSON.parse(mine.stdout))).toEqual(truth);
    expect(jsonPagesIn(target, JSON.parse(source.stdout))).toEqual(truth);
    expect(JSON.parse(mine.stdout).backend).toBe(JSON.parse(source.stdout).backend);
    expect((await bundled('detach', pid)).code).toBe(0);
    expect(uffdInodes(target.pid)).toEqual([]);
  });

  it('a pid with no process: one line, exit 3, no stack', async () => {
    const r = await bundled('scan', '4194303');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^dirtytrack: no such process: 4194303\b.*\n?$/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  });

  it('serve starts its scan worker and answers /metrics with the target\'s rounds', async () => {
    const s = await startServe(['--interval', '200ms', String(target.pid)], 0, [BUNDLE]);
    try {
      const metrics = `http://127.0.0.1:${s.port}/metrics`;
      const up = new RegExp(`^dirtytrack_up\\{pid="${target.pid}",[^}]*\\} 1$`, 'm');
      const rounds = new RegExp(`^dirtytrack_rounds_total\\{pid="${target.pid}",[^}]*\\} [1-9]`, 'm');
      await until('a scan of the target', 20_000, async () => {
        const text = await (await fetch(metrics)).text();
        return up.test(text) && rounds.test(text) ? true : undefined;
      });
    } finally {
      expect(await stop(s.child, 'SIGINT', 30_000)).toBe(130);
    }
    expect(s.stderr()).not.toMatch(/unexpected error/);
    expect(uffdInodes(target.pid)).toEqual([]);
  });
});
