// `dirtytrack serve` scraped by a real Prometheus: the rate Prometheus stores for a rate-writer matches the
// writer's own log, targets come (--match) and go (exit, grace, series removed), SIGTERM leaves nothing armed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Target } from '../../experiments/lib/target.js';
import { TruthLog } from '../../experiments/lib/truth-log.js';
import { PAGE_SIZE } from '../../src/kernel/info.js';
import { freePort, startPrometheus, startServe, stop, until, type Prometheus } from './harness.js';
import { exitAll, expectUnharmed, spawnHostile, uffdInodes } from '../hostile/helpers.js';
import { uffdDescriptors } from '../helpers/userfaultfds.js';

const RATE = 4000, PAGES = 16384; // one 1 s round writes RATE pages, all distinct (uniform cycles a permutation of PAGES > RATE)
const GRACE_S = 4;
const seed = String(900000 + Math.floor(Math.random() * 99999)); // makes the --match pattern this run's own
const MATCH = `rate-writer --pages 8192 --rate 2000 --seed ${seed}$`;

const holdsUffd = (pid: number) => uffdDescriptors(pid).length > 0;
function absentPid(): number {
  for (let p = 4_194_000; p > 4_000_000; p--) if (!existsSync(`/proc/${p}`)) return p;
  throw new Error('no free pid number found');
}

let writer: Target | undefined, matched: Target | undefined, sandboxed: Target | undefined;
let serve: { child: ChildProcess; port: number; stderr: () => string } | undefined;
let prom: Prometheus | undefined;
const ghost = absentPid();

beforeAll(async () => {
  writer = await Target.spawn('rate-writer', ['--pages', String(PAGES), '--rate', String(RATE), '--seed', '11']);
  await writer.command('start');
  // A live target no backend may touch: its seccomp filter traps userfaultfd() (uffd-wp refuses it).
  sandboxed = await spawnHostile('seccomp-target', ['--action', 'trap']);
  // Prometheus first, so it scrapes from the exporter's first round on (the ghost's up 0 lasts GRACE_S).
  const port = await freePort();
  prom = await startPrometheus([`127.0.0.1:${port}`]);
  serve = await startServe(['--interval', '1s', '--grace', `${GRACE_S}s`, '--window', '5s', '--bandwidth', '1GiB/s', String(writer.pid), String(ghost), String(sandboxed.pid), '--match', MATCH], port);
});

afterAll(async () => {
  await stop(serve?.child, 'SIGTERM');
  await prom?.close();
  writer?.kill();
  matched?.kill();
  await exitAll();
});

const one = async (q: string) => (await prom!.query(q))[0]?.value[1];

describe('dirtytrack serve under a real Prometheus', () => {
  it('serves /healthz and refuses anything but reading', async () => {
    const base = `http://127.0.0.1:${serve!.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${base}/targets`)).status).toBe(404);
  });

  it("dirtytrack's metrics pass promtool's lint of names, units and types", async () => {
    const text = await until('a first round in /metrics', 20_000, async () => {
      const t = await (await fetch(`http://127.0.0.1:${serve!.port}/metrics`)).text();
      return /^dirtytrack_precopy_downtime_seconds\{/m.test(t) ? t : undefined;
    });
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
    expect(lint.error).toBeUndefined();
    // prom-client's own nodejs_* gauges named *_total are its business; ours must be clean.
    const ours = (lint.stdout + lint.stderr).split('\n').filter((l) => l.startsWith('dirtytrack_'));
    expect(ours).toEqual([]);
  });

  it("the writer's dirty rate in Prometheus is its own truth within 10 %", async () => {
    const sel = `{pid="${writer!.pid}"}`;
    await until('a first sample of the writer', 30_000, async () => ((await prom!.query(`dirtytrack_dirty_bytes_per_second${sel}`)).length ? true : undefined));
    await delay(3000); // past the first rounds and scrapes
    const truth = new TruthLog(writer!.pid, BigInt(writer!.ready.counter as string));
    try {
      const c0 = truth.count(), t0 = performance.now();
      await delay(11_000);
      const c1 = truth.count(), t1 = performance.now();
      const stored = Number(await one(`avg_over_time(dirtytrack_dirty_bytes_per_second${sel}[10s])`));
      const samples = Number(await one(`count_over_time(dirtytrack_dirty_bytes_per_second${sel}[10s])`));
      // Writes per second are distinct pages per second only if no page repeats within a round: check the log.
      const log = truth.pages(c0, c1);
      for (let i = 0; i + RATE <= log.length; i += RATE) expect(new Set(log.slice(i, i + RATE)).size).toBe(RATE);
      const truthBytesPerSec = ((c1 - c0) / ((t1 - t0) / 1000)) * PAGE_SIZE;
      console.log(`serve: Prometheus ${(stored / 2 ** 20).toFixed(3)} MiB/s over ${samples} samples; writer's log ${(truthBytesPerSec / 2 ** 20).toFixed(3)} MiB/s`);
      expect(samples).toBeGreaterThanOrEqual(5);
      expect(Math.abs(stored - truthBytesPerSec) / truthBytesPerSec).toBeLessThan(0.1);
      expect(Number(await one(`dirtytrack_up${sel}`))).toBe(1);
      expect(Number(await one(`dirtytrack_precopy_converges${sel}`))).toBe(1); // 16 MiB/s against 1 GiB/s
    } finally {
      truth.close();
    }
  });

  it('an untrackable target is up 0, counts its error, and goes after the grace time', async () => {
    expect(Number(await one(`max_over_time(dirtytrack_up{pid="${ghost}"}[5m])`))).toBe(0);
    expect(Number(await one('dirtytrack_errors_total{reason="no_process"}'))).toBeGreaterThanOrEqual(1);
    await until(`pid ${ghost}'s up series to go`, (GRACE_S + 10) * 1000, async () => ((await prom!.query(`dirtytrack_up{pid="${ghost}"}`)).length === 0 ? true : undefined));
  });

  it('a live target that cannot be tracked stays up 0, counts its reason and is left unharmed', async () => {
    const sel = `{pid="${sandboxed!.pid}"}`;
    const backend = (await prom!.query(`dirtytrack_up${sel}`))[0]?.metric.backend;
    if (backend === 'uffd-wp') return expect.fail('the seccomp-filtered target was tracked with uffd-wp');
    if (backend === undefined || backend === '') {
      // uffd-wp (this host's only backend) refuses it: up 0 with no backend, a capability error.
      expect(await one(`dirtytrack_up${sel}`)).toBe('0');
      expect(Number(await one('dirtytrack_errors_total{reason="capability"}'))).toBeGreaterThanOrEqual(1);
    } else {
      expect(await one(`dirtytrack_up${sel}`)).toBe('1'); // a soft-dirty kernel tracks it without injecting
    }
    expect(serve!.stderr()).toMatch(new RegExp(`cannot track ${sandboxed!.pid} \\(hostile-seccomp\\)?.*seccomp`));
    await expectUnharmed(sandboxed!);
    expect((await sandboxed!.command('status')).sigsys).toBe(0);
    expect(uffdInodes(sandboxed!.pid)).toEqual([]);
  });

  it('a process that starts matching --match appears', async () => {
    matched = await Target.spawn('rate-writer', ['--pages', '8192', '--rate', '2000', '--seed', seed]);
    await matched.command('start');
    const v = await until('the matched writer in Prometheus', 30_000, async () => one(`dirtytrack_dirty_bytes_per_second{pid="${matched!.pid}"}`));
    expect(Number(v)).toBeGreaterThan(0);
  });

  it("an exited writer shows up 0, then its series disappear", async () => {
    const sel = `{pid="${writer!.pid}"}`;
    writer!.kill();
    await until('up 0 for the exited writer', 15_000, async () => ((await one(`dirtytrack_up${sel}`)) === '0' ? true : undefined));
    expect(await prom!.query(`dirtytrack_dirty_bytes_per_second${sel}`)).toEqual([]);
    await until("the exited writer's series to disappear", (GRACE_S + 15) * 1000, async () => ((await prom!.query(`{__name__=~"dirtytrack_.*",pid="${writer!.pid}"}`)).length === 0 ? true : undefined));
  });

  it('SIGTERM closes every target (nothing left armed) and exits 143', async () => {
    const backend = (await prom!.query(`dirtytrack_up{pid="${matched!.pid}"}`))[0]?.metric.backend;
    if (backend === 'uffd-wp') expect(holdsUffd(matched!.pid)).toBe(true);
    const code = await stop(serve!.child, 'SIGTERM', 60_000);
    expect(code, serve!.stderr()).toBe(143);
    expect(holdsUffd(matched!.pid)).toBe(false);
    expect((await matched!.command('status')).running).toBe(true); // still running, untouched
  });
});
