// The PAGEMAP_SCAN resume loop against a fake ioctl that behaves like the kernel, bug included.
import { describe, expect, it } from 'vitest';
import { DirtyTrackError } from '../../src/errors.js';
import type { FakeScanIoctl } from '../../src/native/binding.js';
import { rangeError, ScanAborted, walkRanges, walkScan } from '../../src/proc/pagemap-ioctl.js';
import { pageSet, runsToRanges } from '../../src/ranges.js';

const PAGE = 4096n;
const addr = (page: number) => BigInt(page) * PAGE;

interface FakeOptions {
  /** The kernel stops after this many regions even with room left in the vector (as 6.18 does). */
  stopAfter?: number;
  /** Regions at the end of a stopped call whose end is beyond the walk_end reported (the 6.12/6.18 bug). */
  lag?: number;
  /** PM_SCAN_WP_MATCHING: pages returned are protected (no longer match). */
  protect?: boolean;
}

/**
 * A kernel stand-in over a set of matching pages: returns coalesced regions from `start`, at most
 * out.length / 3 (or stopAfter) of them; when it stops early, walk_end is where the walk stopped,
 * minus `lag` regions (the overshoot: those regions end past walk_end and come back next call).
 */
function fakeKernel(matching: Set<number>, opts: FakeOptions = {}): FakeScanIoctl & { calls: number } {
  const sorted = () => [...matching].sort((a, b) => a - b);
  const fn = ((start: bigint, end: bigint, out: BigUint64Array) => {
    fn.calls++;
    const cap = Math.min(out.length / 3, opts.stopAfter ?? Infinity);
    const regions: Array<[number, number]> = [];
    let stoppedAt: number | undefined;
    for (const p of sorted()) {
      if (addr(p) < start || addr(p) >= end) continue;
      const last = regions[regions.length - 1];
      if (last && last[1] === p) last[1] = p + 1;
      else if (regions.length === cap) {
        stoppedAt = p;
        break;
      } else regions.push([p, p + 1]);
    }
    regions.forEach(([s, e], i) => {
      out[3 * i] = addr(s);
      out[3 * i + 1] = addr(e);
      out[3 * i + 2] = 2n;
    });
    if (opts.protect) for (const [s, e] of regions) for (let p = s; p < e; p++) matching.delete(p);
    let walkEnd = end;
    if (stoppedAt !== undefined) {
      const lag = Math.min(opts.lag ?? 0, regions.length - 1);
      walkEnd = lag > 0 ? addr(regions[regions.length - lag][0]) : addr(stoppedAt);
    }
    return { count: regions.length, walkEnd };
  }) as FakeScanIoctl & { calls: number };
  fn.calls = 0;
  return fn;
}

const everyHundredth = (pages: number) => new Set(Array.from({ length: Math.ceil(pages / 100) }, (_, i) => i * 100));
const GIB_PAGES = 262144;
/** What 6.18 did on 1 GiB, every 100th page, 4096-region vector: two calls, 62 regions past walk_end. */
const KERNEL_618: FakeOptions = { stopAfter: 2560, lag: 62 };

describe('walkScan (the PAGEMAP_SCAN resume loop in the addon)', () => {
  it('the fake reproduces the kernel bug: resuming naively from walk_end counts 62 pages twice', () => {
    const truth = everyHundredth(GIB_PAGES);
    const ioctl = fakeKernel(new Set(truth), KERNEL_618);
    const out = new BigUint64Array(4096 * 3);
    let pos = 0n, reported = 0;
    const seen = new Set<number>();
    while (pos < addr(GIB_PAGES)) {
      const { count, walkEnd } = ioctl(pos, addr(GIB_PAGES), out);
      for (let i = 0; i < count; i++) seen.add(Number(out[3 * i] / 4096n));
      reported += count;
      pos = walkEnd;
    }
    // every written page came back, and 62 of them twice
    expect(seen).toEqual(truth);
    expect(reported).toBe(truth.size + 62);
  });

  it('1 GiB, every 100th page, 4096-region vector, overshooting walk_end: exactly the truth', () => {
    const truth = everyHundredth(GIB_PAGES);
    const r = walkScan(fakeKernel(new Set(truth), KERNEL_618), 0n, addr(GIB_PAGES), { returnMask: 2 }, 4096);
    expect(r.count).toBe(2622);
    expect(runsToRanges(r.runs)).toEqual([...truth].map((p) => [p, p + 1]));
    expect(r.overshoots).toBe(62);
    expect(r.calls).toBe(2);
  });

  it('with write-protection (matched pages stop matching) the re-walked overshoot adds nothing', () => {
    const truth = everyHundredth(GIB_PAGES);
    const matching = new Set(truth);
    const r = walkScan(fakeKernel(matching, { ...KERNEL_618, protect: true }), 0n, addr(GIB_PAGES), { returnMask: 2, flags: 1 }, 4096);
    expect(r.count).toBe(2622);
    expect(matching.size).toBe(0);
  });

  it('a one-region vector: one call per region plus the last, nothing lost', () => {
    const truth = new Set([0, 1, 2, 10, 11, 500, 4095]);
    const ioctl = fakeKernel(new Set(truth));
    const r = walkScan(ioctl, 0n, addr(4096), { returnMask: 2 }, 1);
    expect(runsToRanges(r.runs)).toEqual([[0, 3], [10, 12], [500, 501], [4095, 4096]]);
    expect(r.count).toBe(7);
    expect(ioctl.calls).toBe(4);
  });

  it('lag on every call with a tiny vector still converges to the truth', () => {
    const truth = new Set(Array.from({ length: 300 }, (_, i) => i * 3));
    const r = walkScan(fakeKernel(new Set(truth), { lag: 2 }), 0n, addr(1000), { returnMask: 2 }, 4);
    expect(pageSet(runsToRanges(r.runs))).toEqual(truth);
    expect(r.count).toBe(truth.size);
    expect(r.overshoots).toBeGreaterThan(0);
  });

  it('merges ranges that touch across calls and clips to [start, end)', () => {
    const truth = new Set([4, 5, 6, 7, 8, 9]);
    // A kernel that splits one run over two calls and returns a region straying outside the range.
    const ioctl: FakeScanIoctl = (start, _end, out) => {
      if (start === addr(5)) {
        out.set([addr(3), addr(7), 2n]);
        return { count: 1, walkEnd: addr(7) };
      }
      out.set([addr(7), addr(12), 2n]);
      return { count: 1, walkEnd: addr(9) };
    };
    const r = walkScan(ioctl, addr(5), addr(9), { returnMask: 2 }, 1);
    expect(runsToRanges(r.runs)).toEqual([[5, 9]]);
    expect(r.count).toBe([...truth].filter((p) => p >= 5 && p < 9).length);
  });

  it('a failure mid-walk keeps everything returned before it, including the failed call\'s partial output', () => {
    let call = 0;
    const ioctl: FakeScanIoctl = (_start, _end, out) => {
      call++;
      if (call === 1) {
        out.set([addr(1), addr(2), 2n]);
        return { count: 1, walkEnd: addr(10) };
      }
      out.set([addr(12), addr(14), 2n]);
      throw Object.assign(new Error('ioctl(PAGEMAP_SCAN): Operation not permitted (EPERM)'), { code: 'EPERM', errno: -1, syscall: 'ioctl(PAGEMAP_SCAN)', count: 1, walkEnd: addr(20) });
    };
    let caught: unknown;
    try {
      walkScan(ioctl, 0n, addr(100), { returnMask: 2 }, 1);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ScanAborted);
    const aborted = caught as ScanAborted;
    expect(aborted.cause.code).toBe('EPERM');
    expect(runsToRanges(aborted.partial.runs)).toEqual([[1, 2], [12, 14]]);
  });

  it('regions out of order within a call are sorted and merged, not lost or counted twice', () => {
    const ioctl: FakeScanIoctl = (_start, end, out) => {
      out.set([addr(50), addr(60), 2n, addr(10), addr(20), 2n, addr(15), addr(55), 2n]);
      return { count: 3, walkEnd: end };
    };
    const r = walkScan(ioctl, 0n, addr(100), { returnMask: 2 }, 4);
    expect(runsToRanges(r.runs)).toEqual([[10, 60]]);
    expect(r.count).toBe(50);
  });

  it('an error from the stand-in that is not an ioctl failure reaches the caller unchanged', () => {
    const ioctl: FakeScanIoctl = () => {
      throw new TypeError('bug in the fake');
    };
    expect(() => walkScan(ioctl, 0n, addr(10), { returnMask: 2 }, 1)).toThrow('bug in the fake');
  });

  it('a kernel that makes no progress is an error, not an endless loop', () => {
    const ioctl: FakeScanIoctl = (start) => ({ count: 0, walkEnd: start });
    expect(() => walkScan(ioctl, 0n, addr(10), { returnMask: 2 }, 1)).toThrow(DirtyTrackError);
  });

  it('an empty range makes no call', () => {
    const ioctl = fakeKernel(new Set([1]));
    expect(walkScan(ioctl, addr(5), addr(5), { returnMask: 2 }, 1).count).toBe(0);
    expect(ioctl.calls).toBe(0);
  });
});

describe('walkRanges (every mapping of a scan in one call)', () => {
  const eperm = (walkEnd: bigint) => Object.assign(new Error('ioctl(PAGEMAP_SCAN): Operation not permitted (EPERM)'), { code: 'EPERM', errno: -1, count: 0, walkEnd });

  it('keeps each range\'s runs apart, even where two ranges touch', () => {
    const r = walkRanges(fakeKernel(new Set([8, 9, 10, 11, 20])), BigUint64Array.of(addr(0), addr(10), addr(10), addr(30)), { returnMask: 2 }, 16);
    expect(r.ranges.map((x) => runsToRanges(x.runs))).toEqual([[[8, 10]], [[10, 12], [20, 21]]]);
    expect(r.ranges.map((x) => x.count)).toEqual([2, 3]);
  });

  it('EPERM stops only its own range (a mapping without async uffd-wp); the others are walked', () => {
    const kernel = fakeKernel(new Set([1, 15, 25]));
    const ioctl: FakeScanIoctl = (start, end, out) => {
      if (start >= addr(10) && start < addr(20)) throw eperm(start);
      return kernel(start, end, out);
    };
    const r = walkRanges(ioctl, BigUint64Array.of(addr(0), addr(10), addr(10), addr(20), addr(20), addr(30)), { returnMask: 2 }, 16);
    expect(r.ranges.map((x) => x.errno)).toEqual([undefined, 1, undefined]);
    expect(r.ranges.map((x) => runsToRanges(x.runs))).toEqual([[[1, 2]], [], [[25, 26]]]);
  });

  it('any other error stops the walk: later ranges carry ECANCELED and no runs', () => {
    const ioctl: FakeScanIoctl = (start) => {
      throw Object.assign(new Error('gone'), { code: 'ESRCH', errno: -3, count: 0, walkEnd: start });
    };
    const r = walkRanges(ioctl, BigUint64Array.of(addr(0), addr(10), addr(10), addr(20)), { returnMask: 2 }, 16);
    expect(r.ranges.map((x) => x.errno && rangeError(x).code)).toEqual(['ESRCH', 'ECANCELED']);
    expect(r.calls).toBe(1);
  });
});

describe('the runs handed to JavaScript (copied from the walk\'s kept list, or the list itself when large)', () => {
  /** Every even page of [start, end) matches: one run per page, `out.length / 3` regions per call. */
  const evenPages: FakeScanIoctl = (start, end, out) => {
    let p = Number(start / PAGE);
    if (p % 2) p++;
    let n = 0;
    for (; p < Number(end / PAGE) && n < out.length / 3; p += 2, n++) {
      out[3 * n] = addr(p);
      out[3 * n + 1] = addr(p + 1);
      out[3 * n + 2] = 2n;
    }
    return { count: n, walkEnd: n < out.length / 3 ? end : addr(p) };
  };
  const expectEvenRuns = (runs: Float64Array, from: number, pages: number) => {
    expect(runs.length).toBe(pages);
    let bad = 0;
    for (let i = 0; i < runs.length; i += 2) if (runs[i] !== from + i || runs[i + 1] !== from + i + 1) bad++;
    expect(bad).toBe(0);
  };

  // 2^16 runs (1 MiB: copied) and 2^20 runs (16 MiB: handed over); each answer must survive the next walk.
  for (const runs of [1 << 16, 1 << 20]) {
    it(`${runs} runs: exact, and not overwritten by the walks after it`, () => {
      const first = walkScan(evenPages, addr(0), addr(2 * runs), { returnMask: 2 }, 65536);
      const second = walkScan(evenPages, addr(2 * runs), addr(4 * runs), { returnMask: 2 }, 65536);
      walkScan(evenPages, addr(0), addr(64), { returnMask: 2 }, 65536);
      expect([first.count, second.count]).toEqual([runs, runs]);
      expectEvenRuns(first.runs, 0, 2 * runs);
      expectEvenRuns(second.runs, 2 * runs, 2 * runs);
    });
  }
});
