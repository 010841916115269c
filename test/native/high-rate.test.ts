// No lost writes under load: rate-writer stores continuously while the tracker scans with reset every
// few milliseconds; the target's own log says which page every write went to.
import { afterEach, describe, expect, it } from 'vitest';
import { UffdWpBackend } from '../../src/backends/uffd-wp/backend.js';
import { exitAll, readMem, sleep, spawnTarget } from './helpers.js';

afterEach(exitAll);

const MAGIC = 0x6b72747974726964n;

describe('uffd-wp under a high write rate', () => {
  it('every page the log says was written between two scans is in one of them', async () => {
    const pages = 16384;
    const t = await spawnTarget('rate-writer', ['--pages', String(pages), '--rate', '200000', '--log-capacity', String(1 << 22)]);
    const region = t.region();
    const counterAt = BigInt(t.ready.counter as string);
    const counter = () => {
      const b = readMem(t.pid, counterAt, 32);
      expect(b.readBigUInt64LE(0)).toBe(MAGIC);
      return { done: Number(b.readBigUInt64LE(8)), log: b.readBigUInt64LE(16), capacity: Number(b.readBigUInt64LE(24)) };
    };
    const b = new UffdWpBackend(t.pid);
    try {
      b.clear();
      b.scan({ reset: true });
      // Scan k ran between counter reads before[k] and after[k]; found[k] = its pages in the region.
      const before: number[] = [], after: number[] = [], found: Array<Set<number>> = [];
      await t.command('start');
      const t0 = Date.now();
      while ((Date.now() - t0 < 1000 || found.length < 30) && Date.now() - t0 < 10_000) {
        before.push(counter().done);
        const scan = b.scan({ reset: true });
        after.push(counter().done);
        const set = new Set<number>();
        for (const r of scan.regions) for (const [s, e] of r.dirty) for (let p = Math.max(s, region.startPage); p < Math.min(e, region.startPage + pages); p++) set.add(p - region.startPage);
        found.push(set);
        await sleep(3);
      }
      await t.command('stop');
      before.push(counter().done); // a last scan after the writer stopped covers the tail
      const last = b.scan({ reset: true });
      after.push(counter().done);
      const set = new Set<number>();
      for (const r of last.regions) for (const [s, e] of r.dirty) for (let p = Math.max(s, region.startPage); p < Math.min(e, region.startPage + pages); p++) set.add(p - region.startPage);
      found.push(set);

      const { done: total, log, capacity } = counter();
      expect(total).toBeLessThanOrEqual(capacity);
      const logBuf = readMem(t.pid, log, total * 8);
      const pageOf = (n: number) => Number(logBuf.readBigUInt64LE(n * 8));

      // Write n was stored after scan k ended if n > after[k], before scan k began if n < before[k]
      // (count published after the store; at most write `count` in flight). So it must appear in a
      // scan from the first that may have overlapped it to the first that began after it.
      const K = found.length;
      const writesTo = new Map<number, number[]>(); // page → write numbers, ascending
      let lost = 0;
      let first = 0;
      for (let n = 0; n < total; n++) {
        while (first < K && after[first] < n) first++;
        let lastScan = first;
        while (lastScan < K && before[lastScan] <= n) lastScan++;
        if (lastScan >= K) lastScan = K - 1;
        const page = pageOf(n);
        let seen = false;
        for (let k = first; k <= lastScan && !seen; k++) seen = found[k].has(page);
        if (!seen) lost++;
        (writesTo.get(page) ?? writesTo.set(page, []).get(page)!).push(n);
      }
      // A report of page p by scan k, after its previous report by scan j, is a double count when no
      // write to p can have landed after scan j looked at p and before scan k did: none in
      // [before[j], after[k]] (for a first report: none up to after[k]).
      let reports = 0, doubles = 0;
      const lastReport = new Map<number, number>();
      found.forEach((s, k) => {
        for (const p of s) {
          reports++;
          const j = lastReport.get(p);
          const from = j === undefined ? 0 : before[j];
          if (!(writesTo.get(p) ?? []).some((n) => n >= from && n <= after[k])) doubles++;
          lastReport.set(p, k);
        }
      });
      console.log(`high rate: ${total} writes (${(total / ((Date.now() - t0) / 1000)).toFixed(0)}/s) over ${K} scans, ${lost} lost; ${reports} page reports, ${doubles} double counts (reported again with no write in between)`);
      expect(total).toBeGreaterThan(50_000);
      expect(K).toBeGreaterThanOrEqual(30);
      expect(lost).toBe(0);
    } finally {
      b.close();
    }
  });
});
