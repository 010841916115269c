import { afterEach, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backends/select.js';
import { PagemapReader } from '../../src/proc/pagemap.js';
import { countZeroPages } from '../../src/proc/zero-pages.js';
import { Target } from '../../experiments/lib/target.js';

const PRESENT = 1n << 63n;
let target: Target | undefined;
afterEach(async () => {
  await target?.exit();
  target = undefined;
});

const presentPages = (pid: number, first: number, count: number) => [...new PagemapReader(pid).entries(first, count)].filter((e) => e & PRESENT).length;

describe('countZeroPages', () => {
  it('counts holes and zero-filled present pages as zero, written pages not, and maps nothing new', async () => {
    target = await Target.spawn('scenario', ['--pages', '64']);
    const main = target.regions[0]!;
    await target.command('write 1,3,5'); // non-zero content (the phase number)
    await target.command('populate-write 10 20'); // present, still zero
    const range = { start: main.start, end: main.start + BigInt(main.size) };
    const c = countZeroPages(target.pid, [range]);
    expect(c).toMatchObject({ pages: 64, zeroPages: 61, readPages: 13, sampled: false });
    expect(presentPages(target.pid, main.startPage, 64)).toBe(13);
  });

  it('holes that uffd-wp tracking marked (pagemap flags them swapped) still count as zero', async () => {
    target = await Target.spawn('scenario', ['--pages', '64']);
    const main = target.regions[0]!;
    await target.command('write 1,3,5');
    const tracker = openBackend(target.pid, 'uffd-wp');
    try {
      tracker.clear();
      const c = countZeroPages(target.pid, [{ start: main.start, end: main.start + BigInt(main.size) }]);
      expect(c).toMatchObject({ pages: 64, zeroPages: 61, readPages: 3 });
    } finally {
      tracker.close();
    }
  });

  it('samples: the estimate lies within its stated interval of the truth', async () => {
    target = await Target.spawn('scenario', ['--pages', '4096']);
    const main = target.regions[0]!;
    await target.command(`write ${Array.from({ length: 1024 }, (_, i) => i * 4).join(',')}`);
    const c = countZeroPages(target.pid, [{ start: main.start, end: main.start + BigInt(main.size) }], { samplePages: 2000 });
    expect(c.sampled).toBe(true);
    expect(c.readPages).toBeLessThanOrEqual(2000);
    expect(c.ci95Pages).toBeGreaterThan(40); // ≈ 1.96·√(0.75·0.25/2000)·4096 = 78
    // 3072 zero pages; 2.35 intervals ≈ 4.6 σ: a false failure is a one-in-100,000 event.
    expect(Math.abs(c.zeroPages - 3072)).toBeLessThanOrEqual(2.35 * c.ci95Pages);
  });
});
