// The lockstep workloads (workloads/README.md) against their own memory: after each phase the pages whose
// contents changed are exactly the pages reported, and each holds the phase number. This is what makes
// their replies ground truth for every other test. (Was workloads/selfcheck.mjs.)
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Target, WORKLOAD_BIN } from '../../experiments/lib/target.js';
import { changedPages, pagemapOf, presentPages, smapsEntry, snapshot, word0, type Span } from '../helpers/target-memory.js';

const main = (t: Target): Span => ({ start: t.region().start, pages: t.region().pages });

/** One `write` phase, checked against the memory diff; returns the pages it reported. */
async function checkPhase(t: Target, phase: number, expected?: number[]): Promise<number[]> {
  const r = main(t);
  const before = snapshot(t.pid, r);
  const reply = await t.command('write');
  const after = snapshot(t.pid, r);
  expect(reply).toMatchObject({ event: 'wrote', phase });
  expect(reply.writes.map((w: { region: string }) => w.region)).toEqual(['main']);
  const pages: number[] = reply.writes[0].pages;
  expect(pages.every((p, i) => Number.isInteger(p) && p >= 0 && p < r.pages && (i === 0 || p > pages[i - 1]))).toBe(true);
  if (expected) expect(pages).toEqual(expected);
  expect(changedPages(before, after)).toEqual(pages);
  expect(pages.filter((p) => word0(after, p) !== BigInt(phase))).toEqual([]);
  return pages;
}

const strideExpected = (n: number, k: number, o: number, p: number) => Array.from({ length: n }, (_, i) => i).filter((i) => i % k === (o + p - 1) % k);

/** `exit` (or EOF) is answered, the status is 0 and nothing follows. */
async function closeChecked(t: Target, viaEof = false) {
  const exited = new Promise<number | null>((resolve) => t.child.once('exit', (code) => resolve(code)));
  if (viaEof) t.child.stdin!.end();
  else t.child.stdin!.write('exit\n');
  expect(await t.next()).toEqual({ event: 'exit' });
  expect(await exited).toBe(0);
  await expect(t.next()).rejects.toThrow(/exited/);
}

describe('stride-writer', () => {
  it('populated: every phase writes the stride, exactly, and the protocol holds', async () => {
    const [N, K, O] = [256, 4, 1];
    const t = await Target.spawn('stride-writer', ['--pages', N, '--stride', K, '--offset', O].map(String));
    expect(Object.keys(t.ready).slice(0, 4)).toEqual(['event', 'pid', 'pageSize', 'regions']);
    expect(t.ready).toMatchObject({ pid: t.pid, pageSize: 4096 });
    expect(t.region().pages).toBe(N);
    expect(presentPages(pagemapOf(t.pid, main(t)))).toHaveLength(N);
    const e = smapsEntry(t.pid, t.region().start)!;
    expect(e.perms).toBe('rw-p');
    expect(e.end >= t.region().start + BigInt(N * 4096)).toBe(true);
    expect(e.vmFlags).toContain('nh');
    for (let p = 1; p <= 8; p++) await checkPhase(t, p, strideExpected(N, K, O, p));
    expect(await t.reply('frobnicate')).toEqual({ event: 'error', message: "unknown command 'frobnicate'" });
    expect((await t.reply('regions')).regions).toEqual(t.ready.regions);
    await checkPhase(t, 9, strideExpected(N, K, O, 9)); // still in step after the extra commands
    await closeChecked(t);
  });

  it('--no-populate: nothing present at ready, then exactly the written pages', async () => {
    const [N, K] = [64, 3];
    const t = await Target.spawn('stride-writer', ['--pages', N, '--stride', K, '--no-populate'].map(String));
    expect(presentPages(pagemapOf(t.pid, main(t)))).toEqual([]);
    const reply = await t.command('write'); // read nothing before: fresh anonymous memory is zero
    expect(reply.writes[0].pages).toEqual(strideExpected(N, K, 0, 1));
    expect(presentPages(pagemapOf(t.pid, main(t)))).toEqual(reply.writes[0].pages);
    expect(changedPages(Buffer.alloc(N * 4096), snapshot(t.pid, main(t)))).toEqual(reply.writes[0].pages);
    for (let p = 2; p <= 4; p++) await checkPhase(t, p, strideExpected(N, K, 0, p));
    await closeChecked(t, true);
  });

  it('--thp: a 2 MiB-aligned region advised MADV_HUGEPAGE', async () => {
    const t = await Target.spawn('stride-writer', ['--pages', '1024', '--stride', '512', '--offset', '7', '--thp']);
    expect(t.region().start % (2n << 20n)).toBe(0n);
    expect(smapsEntry(t.pid, t.region().start)!.vmFlags).toContain('hg');
    for (let p = 1; p <= 3; p++) await checkPhase(t, p, strideExpected(1024, 512, 7, p));
    await closeChecked(t);
  });

  it('bad arguments: one error line, exit 2', async () => {
    for (const args of [['--pages', 'x', '--stride', '1'], ['--stride', '2'], ['--pages', '4', '--stride', '2', '--bogus']]) {
      const child = spawn(WORKLOAD_BIN + 'stride-writer', args, { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout!.on('data', (d) => { out += d; });
      const code = await new Promise((resolve) => child.once('exit', resolve));
      expect(code, args.join(' ')).toBe(2);
      expect(JSON.parse(out.trim()).event).toBe('error');
    }
  });
});

describe('random-writer', () => {
  const run = async (seed: number) => {
    const t = await Target.spawn('random-writer', ['--pages', '500', '--count', '37', '--seed', String(seed)]);
    expect(presentPages(pagemapOf(t.pid, main(t)))).toHaveLength(500);
    const phases: number[][] = [];
    for (let p = 1; p <= 5; p++) {
      const pages = await checkPhase(t, p);
      expect(pages).toHaveLength(37);
      phases.push(pages);
    }
    await closeChecked(t);
    return phases;
  };
  it('--count distinct pages a phase, the same for a seed, others for another seed', async () => {
    const a = await run(42), b = await run(42), c = await run(43);
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    expect(new Set(a.map((x) => JSON.stringify(x))).size).toBe(5);
  });
  it('count == pages writes every page', async () => {
    const t = await Target.spawn('random-writer', ['--pages', '8', '--count', '8', '--seed', '1']);
    await checkPhase(t, 1, [0, 1, 2, 3, 4, 5, 6, 7]);
    await closeChecked(t);
  });
});

describe('readonly and node-buffer', () => {
  it('readonly: phases write nothing; the read sums go to stderr', async () => {
    const t = await Target.spawn('readonly', ['--pages', '128']);
    expect(presentPages(pagemapOf(t.pid, main(t)))).toHaveLength(128);
    for (let p = 1; p <= 3; p++) await checkPhase(t, p, []);
    await closeChecked(t);
    expect(t.stderr).toMatch(/phase 3 sum \d+/);
  });

  it('node-buffer: the stride inside a Buffer of a Node process', async () => {
    const [N, K, O] = [300, 5, 3];
    const t = await Target.spawn('node-buffer.mjs', ['--pages', N, '--stride', K, '--offset', O].map(String));
    expect(t.region().pages).toBe(N);
    const e = smapsEntry(t.pid, t.region().start)!;
    expect(e.perms).toBe('rw-p');
    expect(presentPages(pagemapOf(t.pid, main(t)))).toHaveLength(N);
    for (let p = 1; p <= 6; p++) await checkPhase(t, p, strideExpected(N, K, O, p));
    await closeChecked(t);
  });
});

describe('scenario: each command does to the kernel what it says', () => {
  it('writes, reads, populate, mprotect, dontneed, fork-write, mmap, mremap, remap', async () => {
    const t = await Target.spawn('scenario', ['--pages', '16']);
    let span = main(t);
    let phase = 0;
    const pm = () => pagemapOf(t.pid, span);
    expect(presentPages(pm())).toEqual([]);
    const wrote = async (cmd: string, pages: number[], region = 'main') => {
      const r = region === 'main' ? span : { start: t.region(region).start, pages: t.region(region).pages };
      const before = snapshot(t.pid, r);
      const reply = await t.command(cmd);
      expect([reply.event, reply.phase, reply.writes]).toEqual(['wrote', ++phase, [{ region, pages }]]);
      const after = snapshot(t.pid, r);
      if (cmd.startsWith('populate-write')) expect(changedPages(before, after)).toEqual([]);
      else {
        expect(changedPages(before, after)).toEqual(pages);
        expect(pages.every((p) => word0(after, p) === BigInt(phase))).toBe(true);
      }
      return reply;
    };
    const ok = async (cmd: string) => {
      const before = snapshot(t.pid, span);
      const reply = await t.command(cmd);
      expect(reply.event).toBe('ok');
      if (!/remap|mremap|dontneed|mmap/.test(cmd)) expect(changedPages(before, snapshot(t.pid, span))).toEqual([]);
      return reply;
    };
    const refused = async (cmd: string) => expect((await t.reply(cmd)).event, cmd).toBe('error');

    const first = await t.command('write 1,3,5');
    phase++;
    expect(first.writes).toEqual([{ region: 'main', pages: [1, 3, 5] }]);
    expect(presentPages(pm())).toEqual([1, 3, 5]);
    expect(changedPages(Buffer.alloc(16 * 4096), snapshot(t.pid, span))).toEqual([1, 3, 5]);
    await wrote('write 5 3,3', [3, 5]); // spaces, commas, duplicates: sorted and distinct
    await wrote('write', []);
    await ok('read 0,2');
    expect(presentPages(pm())).toEqual([0, 1, 2, 3, 5]); // a read maps the zero page
    await ok('populate-read 6 8');
    await wrote('populate-write 8 10', [8, 9]);
    let m = pm();
    expect(presentPages(m)).toEqual([0, 1, 2, 3, 5, 6, 7, 8, 9]);
    expect([6, 7, 8, 9].map((i) => m[i].exclusive)).toEqual([false, false, true, true]); // zero page vs private pages

    await ok('mprotect 0 4 ro');
    expect(smapsEntry(t.pid, span.start)!.perms).toBe('r--p');
    await refused('write 2');
    await ok('read 2');
    await ok('mprotect 4 5 none');
    await refused('read 4');
    await ok('mprotect 0 5 rw');
    await wrote('write 2,4', [2, 4]);

    await ok('dontneed 0 16');
    expect(presentPages(pm())).toEqual([]);
    expect(changedPages(Buffer.alloc(16 * 4096), snapshot(t.pid, span))).toEqual([]);

    await wrote('write 0,1', [0, 1]);
    const fork = await wrote('fork-write 0', [0]);
    expect(existsSync(`/proc/${fork.child}`)).toBe(true);
    m = pm();
    expect([m[0].exclusive, m[1].exclusive]).toEqual([true, false]); // page 0 copied, page 1 shared with the child

    expect((await ok('mmap extra 8')).regions.map((r: { name: string }) => r.name)).toEqual(['main', 'extra']);
    await wrote('write extra 2,7', [2, 7], 'extra');
    await refused('write extra 8');
    await refused('write nosuch 1');

    const saved = snapshot(t.pid, span);
    await ok('mremap 40');
    span = main(t);
    expect(span.pages).toBe(40);
    expect(snapshot(t.pid, span).subarray(0, 16 * 4096).equals(saved)).toBe(true);
    await wrote('write 39', [39]);

    const oldStart = span.start;
    await ok('remap');
    span = main(t);
    expect([span.start, span.pages]).toEqual([oldStart, 40]);
    expect(presentPages(pm())).toEqual([]);
    expect(changedPages(Buffer.alloc(40 * 4096), snapshot(t.pid, span))).toEqual([]);
    await ok('remap extra');

    for (const bad of ['populate-read 0 99', 'dontneed 3 3', 'mprotect 0 1 rx', 'mmap main 4', 'explode']) await refused(bad);
    await closeChecked(t);
    expect(existsSync(`/proc/${fork.child}`)).toBe(false);
  });
});
