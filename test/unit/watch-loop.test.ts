import { describe, expect, it } from 'vitest';
import { runWatch, type LoopOptions } from '../../src/watch/loop.js';
import { DirtyTrackError } from '../../src/errors.js';
import { FakeClock, FakeFreezer, FakeSource, gone, runs, type ScriptedRound } from '../helpers/fake-watch.js';

const base = { intervalMs: 100, tolerance: 0.05, stable: 2, maxRounds: 50, timeoutMs: 60_000 };
const same = (n: number, sets: ScriptedRound['sets']): ScriptedRound[] => Array.from({ length: n }, () => ({ sets }));

async function run(script: ScriptedRound[], opts: Partial<LoopOptions<{ round: number }>> = {}, freeze = false) {
  const clock = new FakeClock();
  const source = new FakeSource(script, clock);
  const freezer = new FakeFreezer(freeze);
  const seen: number[] = [];
  const result = await runWatch(source, freezer, clock, { ...base, ...opts, onRound: (r, raw) => { seen.push(raw.round); opts.onRound?.(r, raw); } });
  return { ...result, clock, source, freezer, seen };
}

describe('watch loop stop reasons', () => {
  it('converged: the same pages every round stop after stable + 1 rounds', async () => {
    const { summary, rounds, source, seen } = await run(same(10, { 'pid:1': runs(0, 100) }));
    expect(summary.reason).toBe('converged');
    expect(rounds).toHaveLength(3);
    expect(seen).toEqual([1, 2, 3]);
    expect(summary).toMatchObject({ workingSetPages: 100, hotSetPages: 100, pid: 4242, backend: 'uffd-wp', freeze: false });
    expect(source.closed).toBe(1);
  });

  it('max-rounds: a growing set never converges', async () => {
    const script = Array.from({ length: 10 }, (_, i) => ({ sets: { 'pid:1': runs(i * 10, i * 10 + 10) } }));
    const { summary, rounds } = await run(script, { maxRounds: 6 });
    expect(summary.reason).toBe('max-rounds');
    expect(rounds.map((r) => r.newPages)).toEqual([10, 10, 10, 10, 10, 10]);
    expect(rounds.map((r) => r.workingSetPages)).toEqual([10, 20, 30, 40, 50, 60]);
    expect(summary.hotSetPages).toBe(0);
  });

  it('timeout: by the clock, not by rounds', async () => {
    const script = Array.from({ length: 100 }, (_, i) => ({ sets: { 'pid:1': runs(i * 10, i * 10 + 10) } }));
    const { summary, rounds } = await run(script, { timeoutMs: 550, tolerance: 0 });
    expect(summary.reason).toBe('timeout');
    // each round: 100 ms wait + 1 ms scan; the first round ending at or past 550 ms stops it
    expect(rounds).toHaveLength(6);
    expect(rounds.at(-1)!.elapsedMs).toBeGreaterThanOrEqual(550);
  });

  it('exited: the target gone before a round ends the watch there, with the rounds so far', async () => {
    const script: ScriptedRound[] = [...same(3, { 'pid:1': runs(0, 5) }), { stateBefore: 'exited' }];
    const { summary, rounds, source } = await run(script, { tolerance: 0, stable: 9 });
    expect(summary.reason).toBe('exited');
    expect(rounds).toHaveLength(3);
    expect(source.closed).toBe(1);
  });

  it('exited: ESRCH from the scan is the target exiting, not a failure', async () => {
    const script: ScriptedRound[] = [...same(2, { 'pid:1': runs(0, 5) }), { error: gone(), stateAfter: 'exited' }];
    const { summary, error } = await run(script, { stable: 9 });
    expect(summary).toMatchObject({ reason: 'exited', rounds: 2 });
    expect(summary.error).toBeUndefined();
    expect(error).toBeUndefined();
  });

  it('exec: a new image ends tracking of the old one with its own reason; a round spanning the exec is dropped', async () => {
    const before = await run([...same(2, { 'pid:1': runs(0, 5) }), { stateBefore: 'exec' }], { stable: 9 });
    expect(before.summary).toMatchObject({ reason: 'exec', rounds: 2 });
    const during = await run([...same(2, { 'pid:1': runs(0, 5) }), { sets: { 'pid:1': runs(0, 99) }, stateAfter: 'exec' }], { stable: 9 });
    expect(during.summary).toMatchObject({ reason: 'exec', rounds: 2 });
    expect(during.seen).toEqual([1, 2]);
  });

  it('interrupted: an abort during the wait ends it at once, keeping the abort reason', async () => {
    const controller = new AbortController();
    const { summary, rounds, source } = await run(same(50, { 'pid:1': runs(0, 1) }), {
      tolerance: 0, stable: 99, signal: controller.signal,
      onRound: (r) => { if (r.round === 4) controller.abort('SIGTERM'); },
    });
    expect(summary).toMatchObject({ reason: 'interrupted', interruptedBy: 'SIGTERM', rounds: 4 });
    expect(rounds).toHaveLength(4);
    expect(source.closed).toBe(1);
  });

  it('interrupted before the first round: no round, still a summary and a close', async () => {
    const controller = new AbortController();
    controller.abort();
    const { summary, source } = await run(same(5, { 'pid:1': runs(0, 1) }), { signal: controller.signal });
    expect(summary).toMatchObject({ reason: 'interrupted', rounds: 0, workingSetPages: 0, hotSetPages: 0 });
    expect(summary.interruptedBy).toBeUndefined();
    expect(source.cleared).toBe(1);
    expect(source.closed).toBe(1);
  });
});

describe('watch loop errors', () => {
  it('an error mid-watch keeps its code: reason failed, the error in the result and the summary', async () => {
    const denied = new DirtyTrackError('EACCES', 'permission denied: cannot open /proc/4242/pagemap; run as root');
    const script: ScriptedRound[] = [...same(6, { 'pid:1': runs(0, 5) }), { error: denied }];
    const { summary, error, rounds, source } = await run(script, { stable: 99 });
    expect(summary).toMatchObject({ reason: 'failed', rounds: 6, error: denied.message });
    expect(error).toBe(denied);
    expect(rounds).toHaveLength(6);
    expect(source.closed).toBe(1);
  });

  it('an unexpected error is kept as is (the CLI prints its stack)', async () => {
    const bug = new TypeError('x is undefined');
    const { summary, error } = await run([{ error: bug }]);
    expect(summary).toMatchObject({ reason: 'failed', rounds: 0, error: 'x is undefined' });
    expect(error).toBe(bug);
  });

  it('a source that cannot close (a live target keeps tracking) is named in the summary, whatever the reason', async () => {
    const clock = new FakeClock();
    const source = new FakeSource(same(3, { 'pid:1': runs(0, 1) }), clock);
    source.close = () => { throw new DirtyTrackError('EPERM', 'permission denied: ptrace 4242'); };
    const { summary, error } = await runWatch(source, new FakeFreezer(false), clock, { ...base, maxRounds: 2, stable: 9 });
    expect(summary).toMatchObject({ reason: 'max-rounds', leftInTarget: 'permission denied: ptrace 4242' });
    expect(error).toBeUndefined();
  });

  it('a failing first clear throws, after closing the source', async () => {
    const clock = new FakeClock();
    const source = new FakeSource([], clock, gone());
    await expect(runWatch(source, new FakeFreezer(false), clock, base)).rejects.toMatchObject({ code: 'ESRCH' });
    expect(source.closed).toBe(1);
  });
});

describe('watch loop counts', () => {
  it('new, overlap, working set and hot set per key, summed', async () => {
    const script: ScriptedRound[] = [
      { sets: { 'pid:1': runs(0, 10), 'pid:2': runs(100, 110) } },
      { sets: { 'pid:1': runs(5, 15), 'pid:2': runs(100, 105) } },
      { sets: { 'pid:1': runs(8, 12), 'pid:2': runs(200, 201) } },
    ];
    const { rounds, summary } = await run(script, { maxRounds: 3, stable: 2, tolerance: 0 });
    expect(rounds.map((r) => r.dirtyPages)).toEqual([20, 15, 5]);
    expect(rounds.map((r) => r.newPages)).toEqual([20, 5, 1]);
    expect(rounds.map((r) => r.overlapPages)).toEqual([0, 10, 4]);
    expect(rounds.map((r) => r.workingSetPages)).toEqual([20, 25, 26]);
    // pages 8–10 of pid 1 are in all three rounds; pid 2 has none in common with round 3
    expect(summary.hotSetPages).toBe(2);
    expect(summary.workingSetPages).toBe(26);
  });

  it('the same page numbers under different keys are different pages', async () => {
    const { rounds } = await run([{ sets: { 'pid:1': runs(0, 4), 'shm:0:9': runs(0, 4) } }], { maxRounds: 1 });
    expect(rounds[0]).toMatchObject({ dirtyPages: 8, newPages: 8, workingSetPages: 8 });
  });

  it('freezing: every reset inside one freeze; interval excludes the pause, period includes it', async () => {
    const { rounds, freezer, summary } = await run(same(3, { 'pid:1': runs(0, 1) }).map((r) => ({ ...r, scanMs: 7 })), { maxRounds: 3, stable: 9 }, true);
    expect(freezer.frozen).toBe(4);
    expect(freezer.thawed).toBe(4);
    expect(summary.freeze).toBe(true);
    expect(rounds[1].intervalMs).toBe(100);
    expect(rounds[1].periodMs).toBe(107);
    expect(rounds[1].pauseMs).toBe(7);
    expect(summary.pauseMs).toBe(21);
    expect(rounds[1].pagesPerSec).toBe(10);
  });

  it('without freezing, windows run from one scan midpoint to the next', async () => {
    const { rounds, clock } = await run(same(3, { 'pid:1': runs(0, 1) }).map((r) => ({ ...r, scanMs: 10 })), { maxRounds: 3, stable: 9 });
    // the wait runs from the last scan's midpoint; the next scan's midpoint is half a scan later
    expect(clock.sleeps.slice(1)).toEqual([95, 95]);
    expect(rounds.slice(1).map((r) => r.intervalMs)).toEqual([105, 105]);
    expect(rounds.slice(1).map((r) => r.periodMs)).toEqual([105, 105]);
  });
});
