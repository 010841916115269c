// `dirtytrack serve` as a command: bad input is one line and a documented exit code; SIGINT closes every target.
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { Target } from '../../experiments/lib/target.js';
import { dirtytrack } from '../helpers/cli.js';
import { uffdInodes } from '../hostile/helpers.js';
import { startServe, stop, until } from './harness.js';

const targets: Target[] = [];
afterAll(async () => { for (const t of targets) await t.exit(); });

describe('dirtytrack serve', () => {
  it('bad input: one line on stderr and exit 2', async () => {
    for (const args of [[], ['--listen', 'nowhere', '1'], ['--match', '(', '1'], ['--interval', '0s', '1'], ['--cgroup', '/no-such-group-here']]) {
      const r = await dirtytrack('serve', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(/^dirtytrack: /);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  it('an address already in use: one line, exit 2', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await dirtytrack('serve', '--listen', `127.0.0.1:${port}`, String(process.pid));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port}: address already in use`);
    } finally {
      busy.close();
    }
  });

  for (const [signal, code] of [['SIGINT', 130], ['SIGHUP', 129]] as const) it(`${signal} closes every target, leaving nothing armed, and exits ${code}`, async () => {
    const t = await Target.spawn('rate-writer', ['--pages', '1024', '--rate', '1000']);
    targets.push(t);
    await t.command('start');
    const s = await startServe(['--interval', '200ms', String(t.pid)]);
    const metrics = `http://127.0.0.1:${s.port}/metrics`;
    const line = await until('a first round', 20_000, async () => /^dirtytrack_rounds_total\{pid="\d+",comm="rate-writer",backend="([^"]+)".*\} [1-9]/m.exec(await (await fetch(metrics)).text())?.[1]);
    if (line === 'uffd-wp') expect(uffdInodes(t.pid)).toHaveLength(1);
    expect(await stop(s.child, signal, 60_000)).toBe(code);
    expect(s.stderr()).toContain(`${signal}: closing every target`);
    expect(uffdInodes(t.pid)).toEqual([]);
    expect((await t.command('status')).running).toBe(true);
  });
});
