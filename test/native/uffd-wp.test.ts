// The uffd-wp backend on this machine's kernel, against targets that report the exact pages they wrote.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { accuracy, detectedIn } from '../../experiments/lib/metrics.js';
import type { Target } from '../../experiments/lib/target.js';
import { PagemapReader } from '../../src/proc/pagemap.js';
import { UffdWpBackend } from '../../src/backends/uffd-wp/backend.js';
import { detachUffd, findTrackerUffds } from '../../src/backends/uffd-wp/target-fd.js';
import { probeUffdWp } from '../../src/kernel/features.js';
import type { ScanResult } from '../../src/types.js';
import { exitAll, sleep, spawnTarget, uffdDescriptors } from './helpers.js';

afterEach(exitAll);

const backends: UffdWpBackend[] = [];
afterEach(() => {
  for (const b of backends.splice(0)) {
    try {
      b.close();
    } catch {
      // the target is gone
    }
  }
});
function attach(pid: number): UffdWpBackend {
  const b = new UffdWpBackend(pid);
  backends.push(b);
  return b;
}

function inRegion(t: Target, scan: ScanResult, name = 'main'): Set<number> {
  const r = t.region(name);
  return detectedIn(scan, r.startPage, r.startPage + r.pages);
}

/** Pages of [startPage, startPage + n) whose pagemap entry has bit 57 (uffd write-protected). */
function uffdWpPages(pid: number, startPage: number, n: number): number {
  const reader = new PagemapReader(pid);
  try {
    let count = 0;
    for (const e of reader.entries(startPage, n)) if ((e >> 57n) & 1n) count++;
    return count;
  } finally {
    reader.close();
  }
}

describe('uffd-wp backend', () => {
  it('the live probe passes on this kernel', () => {
    expect(probeUffdWp()).toMatchObject({ works: true });
  });

  const LOCKSTEP: Array<[string, string[]]> = [
    ['stride-writer', ['--pages', '2048', '--stride', '7']],
    ['stride-writer', ['--pages', '512', '--stride', '1', '--no-populate']],
    ['random-writer', ['--pages', '4096', '--count', '300', '--seed', '7']],
    ['readonly', ['--pages', '1024']],
  ];
  for (const [name, args] of LOCKSTEP) {
    it(`${name} ${args.join(' ')}: recall 1.0 and precision 1.0 in the region, every phase`, async () => {
      const t = await spawnTarget(name, args);
      const b = attach(t.pid);
      b.clear();
      expect(inRegion(t, b.scan({ reset: true })).size).toBe(0);
      for (let phase = 1; phase <= 4; phase++) {
        const truth = await t.write();
        const acc = accuracy(truth, inRegion(t, b.scan({ reset: true })));
        expect({ phase, recall: acc.recall, precision: acc.precision }).toEqual({ phase, recall: 1, precision: 1 });
        if (name === 'readonly') expect(acc.detected).toBe(0);
      }
    });
  }

  it('scan without reset reports the same pages again; with reset, once', async () => {
    const t = await spawnTarget('stride-writer', ['--pages', '256', '--stride', '5']);
    const b = attach(t.pid);
    b.clear();
    const truth = await t.write();
    expect(accuracy(truth, inRegion(t, b.scan())).recall).toBe(1);
    expect(accuracy(truth, inRegion(t, b.scan())).recall).toBe(1);
    expect(accuracy(truth, inRegion(t, b.scan({ reset: true }))).recall).toBe(1);
    expect(inRegion(t, b.scan()).size).toBe(0);
  });

  it('without reset too, pages MADV_DONTNEED discarded after being written are left out (the populated view)', async () => {
    const t = await spawnTarget('scenario', ['--pages', '64', '--populate']);
    const region = t.region('main');
    const b = attach(t.pid);
    b.clear();
    expect(inRegion(t, b.scan()).size).toBe(0);
    const truth = await t.write('write 1,5,9,30,33,40,41,63');
    await t.command('dontneed 0 32'); // discards 1, 5, 9 and 30: holes that the kernel reads as written
    const expected = new Set([...truth].filter((p) => p >= region.startPage + 32));
    expect(expected.size).toBe(4);
    for (let i = 0; i < 2; i++) expect(inRegion(t, b.scan())).toEqual(expected);
    expect(inRegion(t, b.scan({ includeUnpopulated: true })).size).toBeGreaterThan(expected.size); // the holes are there
    expect(inRegion(t, b.scan({ reset: true }))).toEqual(expected); // the populated walk, as before
  });

  it('range limits the scan to the regions it overlaps, clipped', async () => {
    const t = await spawnTarget('stride-writer', ['--pages', '256', '--stride', '1']);
    const b = attach(t.pid);
    b.clear();
    await t.write();
    const main = t.region();
    const start = main.start + 4096n * 10n;
    const scan = b.scan({ range: { start, end: start + 4096n * 20n } });
    expect(scan.regions.length).toBe(1);
    expect(scan.dirtyPages).toBe(20);
    expect(scan.regions[0].dirty).toEqual([[main.startPage + 10, main.startPage + 30]]);
  });

  it('tells mapping kinds apart: anonymous, shmem, memfd and private-file tracked; shared-file, read-only, [vdso]/[vvar] skipped', async () => {
    const t = await spawnTarget('mapping-kinds', ['--pages', '32'], { fixture: true });
    const b = attach(t.pid);
    b.clear();
    const scan0 = b.scan({ reset: true });
    const skippedAt = (name: string) => scan0.skipped.find((s) => s.region.start === t.region(name).start)?.reason;
    expect(skippedAt('file-shared')).toMatch(/shared file mapping/);
    expect(skippedAt('readonly')).toMatch(/read-only/);
    for (const special of ['[vdso]', '[vvar]']) expect(scan0.skipped.find((s) => s.region.path === special)?.reason).toMatch(/kernel-provided/);
    for (const name of ['anon', 'shmem', 'memfd', 'file-private']) {
      expect(skippedAt(name)).toBeUndefined();
      expect(inRegion(t, scan0, name).size).toBe(0);
      const truth = await t.write(`write ${name} 0,3,4,31`);
      const acc = accuracy(truth, inRegion(t, b.scan({ reset: true }), name));
      expect({ name, recall: acc.recall, precision: acc.precision }).toEqual({ name, recall: 1, precision: 1 });
    }
    await t.command('read anon 1,2'); // reads are not writes
    await t.command('read file-private 5');
    expect(inRegion(t, b.scan({ reset: true }), 'anon').size).toBe(0);
  });

  it('a region written and then made read-only is still scanned (its registration survives)', async () => {
    const t = await spawnTarget('mapping-kinds', ['--pages', '32'], { fixture: true });
    const b = attach(t.pid);
    b.clear();
    const truth = await t.write('write anon 2,9');
    await t.command('mprotect anon ro');
    const scan = b.scan({ reset: true });
    expect(accuracy(truth, inRegion(t, scan, 'anon')).recall).toBe(1);
    expect(scan.skipped.find((s) => s.region.start === t.region('anon').start)).toBeUndefined();
  });

  it('a mapping created after the clear is registered at the next scan and its writes reported; precise from then on', async () => {
    const t = await spawnTarget('scenario', ['--pages', '64', '--populate']);
    const b = attach(t.pid);
    b.clear();
    b.scan({ reset: true });
    await t.command('mmap extra 128');
    const truth = await t.write('write extra 1,5,100');
    // Its populated part is reported in the round it appears: here, exactly the pages written.
    const raw = b.scan({ includeUnpopulated: true });
    expect(accuracy(truth, inRegion(t, raw, 'extra')).recall).toBe(1); // the whole region on kernels counting holes as written (6.18)
    const first = b.scan({ reset: true });
    const acc1 = accuracy(truth, inRegion(t, first, 'extra'));
    expect({ recall: acc1.recall, precision: acc1.precision }).toEqual({ recall: 1, precision: 1 });
    const again = await t.write('write extra 7,8');
    const acc = accuracy(again, inRegion(t, b.scan({ reset: true }), 'extra'));
    expect({ recall: acc.recall, precision: acc.precision }).toEqual({ recall: 1, precision: 1 });
  });

  it('mremap (which drops the registration) and MADV_DONTNEED: no write missed afterwards', async () => {
    const t = await spawnTarget('scenario', ['--pages', '64', '--populate']);
    const b = attach(t.pid);
    b.clear();
    b.scan({ reset: true });
    await t.command('mremap 4096'); // grows from 64 pages: the kernel moves it
    const moved = await t.write('write 3,2000');
    expect(accuracy(moved, inRegion(t, b.scan({ reset: true }))).recall).toBe(1);
    await t.command('dontneed 0 32');
    const after = await t.write('write 4,40');
    const acc = accuracy(after, inRegion(t, b.scan({ reset: true })));
    expect({ recall: acc.recall, precision: acc.precision }).toEqual({ recall: 1, precision: 1 });
  });

  it('release() leaves tracking armed; the next tracker adopts the same descriptor and sees the writes since', async () => {
    const t = await spawnTarget('stride-writer', ['--pages', '512', '--stride', '3']);
    const first = new UffdWpBackend(t.pid);
    expect(first.created).toBe(true);
    first.clear();
    first.release();
    expect(uffdDescriptors(t.pid).length).toBe(1);
    const truth = await t.write();
    const second = attach(t.pid);
    expect(second.created).toBe(false);
    const acc = accuracy(truth, inRegion(t, second.scan({ reset: true })));
    expect({ recall: acc.recall, precision: acc.precision }).toEqual({ recall: 1, precision: 1 });
  });

  it('close() leaves no userfaultfd and no write-protected page in the target, which keeps running and writing', async () => {
    const t = await spawnTarget('stride-writer', ['--pages', '512', '--stride', '2']);
    const b = new UffdWpBackend(t.pid);
    b.clear();
    const main = t.region();
    expect(uffdWpPages(t.pid, main.startPage, main.pages)).toBe(main.pages);
    expect(uffdDescriptors(t.pid).length).toBe(1);
    b.close();
    expect(uffdDescriptors(t.pid)).toEqual([]);
    expect(uffdWpPages(t.pid, main.startPage, main.pages)).toBe(0);
    for (let i = 0; i < 3; i++) expect((await t.write()).size).toBe(256);
    expect(() => b.scan()).toThrow(/closed/);
    b.close(); // idempotent
  });

  it('close() after the target exited is quiet', async () => {
    const t = await spawnTarget('stride-writer', ['--pages', '64', '--stride', '2']);
    const b = new UffdWpBackend(t.pid);
    b.clear();
    await t.exit();
    expect(() => b.close()).not.toThrow();
  });

  it('a tracker killed with SIGKILL leaves the descriptor; the target keeps working; detach removes it', async () => {
    const t = await spawnTarget('stride-writer', ['--pages', '512', '--stride', '4']);
    const script = `
      import { UffdWpBackend } from ${JSON.stringify(fileURLToPath(new URL('../../src/backends/uffd-wp/backend.ts', import.meta.url)))};
      const b = new UffdWpBackend(${t.pid}); b.clear(); console.log('armed'); setInterval(() => {}, 1000);`;
    const tracker = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((r) => tracker.stdout!.once('data', (d: Buffer) => r(d.toString())));
    expect(line.trim()).toBe('armed');
    tracker.kill('SIGKILL');
    await new Promise((r) => tracker.once('exit', r));
    expect(findTrackerUffds(t.pid).length).toBe(1);
    for (let i = 0; i < 3; i++) expect((await t.write()).size).toBe(128);
    expect(detachUffd(t.pid)).toBe(true);
    expect(uffdDescriptors(t.pid)).toEqual([]);
    expect(uffdWpPages(t.pid, t.region().startPage, t.region().pages)).toBe(0);
    expect((await t.write()).size).toBe(128);
    expect(detachUffd(t.pid)).toBe(false);
  });

  it('detach leaves a userfaultfd the process made for itself alone', async () => {
    const t = await spawnTarget('stride-writer', ['--pages', '64', '--stride', '4']);
    const { injectSyscall, SYS } = await import('../../src/backends/uffd-wp/inject.js');
    const own = Number(injectSyscall(t.pid, SYS.userfaultfd, [0o2004000n])); // no UFFDIO_API: not ours
    expect(detachUffd(t.pid)).toBe(false);
    expect(uffdDescriptors(t.pid)).toEqual([own]);
    const b = attach(t.pid); // creates its own next to it
    expect(b.created).toBe(true);
    expect(uffdDescriptors(t.pid).length).toBe(2);
  });

  it('a node target: writes to its ArrayBuffer found among the runtime\'s own', async () => {
    const t = await spawnTarget('node-buffer.mjs', ['--pages', '2048', '--stride', '5']);
    const b = attach(t.pid);
    b.clear();
    for (let phase = 1; phase <= 3; phase++) {
      const truth = await t.write();
      await sleep(10);
      const acc = accuracy(truth, inRegion(t, b.scan({ reset: true })));
      expect({ phase, recall: acc.recall, precision: acc.precision }).toEqual({ phase, recall: 1, precision: 1 });
    }
  });
});
