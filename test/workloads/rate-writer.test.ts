// rate-writer keeps its truth in its own memory (a write counter and a ring log of pages): every page
// must hold the number of the last write the log gives for it. (Was part of workloads/selfcheck.mjs;
// its rate-accuracy checks were timing assertions and are gone: rates are measured in npm run bench.)
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Target } from '../../experiments/lib/target.js';
import { TruthLog } from '../../experiments/lib/truth-log.js';
import { freeze, thaw } from '../../src/proc/freeze.js';
import { disagreeWithLog, pagemapOf, presentPages, snapshot, type Span } from '../helpers/target-memory.js';

async function started(args: string[]) {
  const t = await Target.spawn('rate-writer', args);
  expect(t.ready.counter).toMatch(/^0x[0-9a-f]+$/);
  const log = new TruthLog(t.pid, BigInt(t.ready.counter as string)); // checks the counter's magic
  expect(log.count()).toBe(0);
  expect((await t.command('start')).event).toBe('ok');
  return { t, log };
}

const span = (t: Target): Span => ({ start: t.region().start, pages: t.region().pages });

describe('rate-writer', () => {
  for (const rate of [1000, 100_000]) {
    it(`uniform at ${rate}/s: after stop, memory is exactly what the log says`, async () => {
      const { t, log } = await started(['--pages', '4096', '--rate', String(rate)]);
      try {
        await sleep(300);
        expect((await t.reply('start')).event).toBe('error');
        const stopped = await t.command('stop');
        expect(stopped.event).toBe('stopped');
        const n = log.count();
        expect(n).toBe(stopped.writes);
        expect(n).toBeGreaterThan(0);
        expect(n).toBeLessThanOrEqual(log.logCapacity);
        const pages = log.pages(0, n);
        expect(disagreeWithLog(snapshot(t.pid, span(t)), pages)).toEqual([]);
        const cycle = pages.slice(0, 4096);
        expect(new Set(cycle).size).toBe(cycle.length); // a permutation: the first cycle has no repeat
        expect(await t.command('status')).toMatchObject({ running: false, writes: n });
      } finally {
        log.close();
        await t.exit();
      }
    });
  }

  it('frozen at any moment, memory matches the log (plus at most the write in flight)', async () => {
    const { t, log } = await started(['--pages', '2048', '--rate', '200000']);
    try {
      let checked = 0;
      for (let i = 0; i < 10; i++) {
        await sleep(20);
        freeze(t.pid); // SIGSTOP, and wait until every thread is stopped
        const n = log.count();
        const snap = snapshot(t.pid, span(t));
        // write n is logged before its store and counted after: it may be stored already
        const [inFlight] = log.pages(n, n + 1);
        thaw(t.pid);
        expect(n).toBeLessThan(log.logCapacity);
        expect(disagreeWithLog(snap, log.pages(0, n), { page: inFlight, value: n + 1 }), `freeze ${i} at ${n} writes`).toEqual([]);
        checked += n;
      }
      expect(checked).toBeGreaterThan(1000);
      await t.command('stop');
    } finally {
      log.close();
      await t.exit();
    }
  });

  it('hotcold: the hot pages get the hot fraction of the writes', async () => {
    const { t, log } = await started(['--pages', '1000', '--rate', '100000', '--pattern', 'hotcold', '--hot', '100', '--hot-frac', '0.8']);
    try {
      await sleep(300);
      await t.command('stop');
      const pages = log.pages(0, Math.min(log.count(), log.logCapacity));
      expect(pages.length).toBeGreaterThan(10_000);
      expect(pages.every((p) => p >= 0 && p < 1000)).toBe(true);
      expect(Math.abs(pages.filter((p) => p < 100).length / pages.length - 0.8)).toBeLessThan(0.01);
      expect(disagreeWithLog(snapshot(t.pid, span(t)), pages)).toEqual([]);
    } finally {
      log.close();
      await t.exit();
    }
  });

  it('grow: fresh pages in order, exactly those present, and it stops when out of pages', async () => {
    const { t, log } = await started(['--pages', '100000', '--rate', '20000', '--pattern', 'grow']);
    try {
      await sleep(300);
      await t.command('stop');
      const pm = pagemapOf(t.pid, span(t)); // before any memory read
      const n = log.count();
      const pages = log.pages(0, n);
      expect(pages.every((p, i) => p === i)).toBe(true);
      expect(presentPages(pm)).toEqual(pages);
      expect(disagreeWithLog(snapshot(t.pid, { start: t.region().start, pages: n + 16 }), pages)).toEqual([]);
    } finally {
      log.close();
      await t.exit();
    }
    const { t: small, log: smallLog } = await started(['--pages', '50', '--rate', '100000', '--pattern', 'grow']);
    try {
      await sleep(300);
      expect((await small.command('stop')).writes).toBe(50);
    } finally {
      smallLog.close();
      await small.exit();
    }
  });
});
