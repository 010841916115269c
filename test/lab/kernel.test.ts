// Runs only inside the kernel lab (npm run test:kernels): real soft-dirty kernels under QEMU.
import { describe, expect, it } from 'vitest';
import { probeSoftDirty } from '../../src/kernel/features.js';
import { kernelRelease } from '../../src/kernel/info.js';
import { dirtytrack } from '../helpers/cli.js';
import { Target } from '../../experiments/lib/target.js';
import { accuracy } from '../../experiments/lib/metrics.js';

const lab = process.env.DIRTYTRACK_LAB;

describe(`lab kernel ${lab} (${process.env.DIRTYTRACK_LAB_KERNEL})`, () => {
  it('runs the kernel the lab booted, of the series this lab kernel stands for', () => {
    expect(kernelRelease()).toBe(process.env.DIRTYTRACK_LAB_KERNEL);
    expect(kernelRelease()).toMatch(lab === 'deb12' ? /^6\.1\.\d+-\d+-cloud-amd64$/ : /^6\.12\.\d+.*-cloud-amd64$/);
  });

  it('the live probe says soft-dirty works', () => {
    const p = probeSoftDirty();
    expect(p.reason).toBe('write → 1, clear → 0, write → 1');
    expect(p.works).toBe(true);
  });

  it('doctor reports soft-dirty and the auto backend this kernel should get', async () => {
    const r = await dirtytrack('doctor', '--json');
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.softDirty.works).toBe(true);
    expect(d.auto).toBe(lab === 'deb12' ? 'soft-dirty' : 'pagemap-scan');
    const byName = Object.fromEntries(d.backends.map((b: { name: string; works: boolean }) => [b.name, b.works]));
    expect(byName).toEqual(lab === 'deb12'
      ? { 'soft-dirty': true, 'pagemap-scan': false, 'uffd-wp': false }
      : { 'soft-dirty': true, 'pagemap-scan': true, 'uffd-wp': true });
  });

  it('dirtytrack clear / scan --json, as a user runs them, find exactly the pages a target wrote', async () => {
    const t = await Target.spawn('random-writer', ['--pages', '1000', '--count', '77', '--seed', '9']);
    try {
      const region = t.region();
      expect((await dirtytrack('clear', String(t.pid))).code).toBe(0);
      const truth = await t.write();
      const r = await dirtytrack('scan', String(t.pid), '--json');
      expect(r.code).toBe(0);
      const json = JSON.parse(r.stdout);
      expect(json).toMatchObject({ pid: t.pid, pageSize: 4096, backend: lab === 'deb12' ? 'soft-dirty' : 'pagemap-scan' });
      const inRegion = new Set<number>();
      for (const reg of json.regions) {
        expect(reg.start).toMatch(/^0x[0-9a-f]+$/);
        for (const [s, e] of reg.dirty) {
          for (let p = Number(BigInt(s) / 4096n); p < Number(BigInt(e) / 4096n); p++) if (p >= region.startPage && p < region.startPage + region.pages) inRegion.add(p);
        }
      }
      expect(accuracy(truth, inRegion)).toMatchObject({ recall: 1, precision: 1 });
      expect(json.dirtyPages).toBe(json.regions.reduce((a: number, x: { dirtyPages: number }) => a + x.dirtyPages, 0));
    } finally {
      await t.exit();
    }
  });
});
