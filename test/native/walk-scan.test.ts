// The PAGEMAP_SCAN resume loop against a fake ioctl that behaves like the kernel, bug included.
import { describe, expect, it } from 'vitest';
import { DirtyTrackError } from '../../src/errors.js';
import { ScanAborted, walkScan, type ScanIoctl } from '../../src/pagemap-scan.js';

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
function fakeKernel(matching: Set<number>, opts: FakeOptions = {}): ScanIoctl & { calls: number } {
  const sorted = () => [...matching].sort((a, b) => a - b);
  const fn = ((start: bigint, end: bigint, _q: unknown, out: BigUint64Array) => {
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
  }) as ScanIoctl & { calls: number };
  fn.calls = 0;
  return fn;
}

const everyHundredth = (pages: number) => new Set(Array.from({ length: Math.ceil(pages / 100) }, (_, i) => i * 100));
const GIB_PAGES = 262144;
/** What 6.18 did on 1 GiB, every 100th page, 4096-region vector: two calls, 62 regions past walk_end. */
const KERNEL_618: FakeOptions = { stopAfter: 2560, lag: 62 };

describe('walkScan (the PAGEMAP_SCAN resume loop)', () => {
  it('the fake reproduces the kernel bug: resuming naively from walk_end counts 62 pages twice', () => {
    const truth = everyHundredth(GIB_PAGES);
    const ioctl = fakeKernel(new Set(truth), KERNEL_618);
    const out = new BigUint64Array(4096 * 3);
    let pos = 0n, reported = 0;
    while (pos < addr(GIB_PAGES)) {
      const { count, walkEnd } = ioctl(pos, addr(GIB_PAGES), { returnMask: 2 }, out);
      reported += count;
      pos = walkEnd;
    }
    expect(truth.size).toBe(2622);
    expect(reported).toBe(2622 + 62);
  });

  it('1 GiB, every 100th page, 4096-region vector, overshooting walk_end: exactly the truth', () => {
    const truth = everyHundredth(GIB_PAGES);
    const r = walkScan(fakeKernel(new Set(truth), KERNEL_618), 0n, addr(GIB_PAGES), { returnMask: 2 }, new BigUint64Array(4096 * 3));
    expect(r.count).toBe(2622);
    expect(r.ranges).toEqual([...truth].map((p) => [p, p + 1]));
    expect(r.overshoots).toBe(62);
    expect(r.calls).toBe(2);
  });

  it('with write-protection (matched pages stop matching) the re-walked overshoot adds nothing', () => {
    const truth = everyHundredth(GIB_PAGES);
    const matching = new Set(truth);
    const r = walkScan(fakeKernel(matching, { ...KERNEL_618, protect: true }), 0n, addr(GIB_PAGES), { returnMask: 2, flags: 1 }, new BigUint64Array(4096 * 3));
    expect(r.count).toBe(2622);
    expect(matching.size).toBe(0);
  });

  it('a one-region vector: one call per region plus the last, nothing lost', () => {
    const truth = new Set([0, 1, 2, 10, 11, 500, 4095]);
    const ioctl = fakeKernel(new Set(truth));
    const r = walkScan(ioctl, 0n, addr(4096), { returnMask: 2 }, new BigUint64Array(3));
    expect(r.ranges).toEqual([[0, 3], [10, 12], [500, 501], [4095, 4096]]);
    expect(r.count).toBe(7);
    expect(ioctl.calls).toBe(4);
  });

  it('lag on every call with a tiny vector still converges to the truth', () => {
    const truth = new Set(Array.from({ length: 300 }, (_, i) => i * 3));
    const r = walkScan(fakeKernel(new Set(truth), { lag: 2 }), 0n, addr(1000), { returnMask: 2 }, new BigUint64Array(4 * 3));
    expect(r.count).toBe(300);
    expect(r.overshoots).toBeGreaterThan(0);
  });

  it('merges ranges that touch across calls and clips to [start, end)', () => {
    const truth = new Set([4, 5, 6, 7, 8, 9]);
    // A kernel that splits one run over two calls and returns a region straying outside the range.
    const ioctl: ScanIoctl = (start, _end, _q, out) => {
      if (start === addr(5)) {
        out.set([addr(3), addr(7), 2n]);
        return { count: 1, walkEnd: addr(7) };
      }
      out.set([addr(7), addr(12), 2n]);
      return { count: 1, walkEnd: addr(9) };
    };
    const r = walkScan(ioctl, addr(5), addr(9), { returnMask: 2 }, new BigUint64Array(3));
    expect(r.ranges).toEqual([[5, 9]]);
    expect(r.count).toBe(4);
    expect(truth.size).toBe(6);
  });

  it('a failure mid-walk keeps everything returned before it, including the failed call\'s partial output', () => {
    let call = 0;
    const ioctl: ScanIoctl = (_start, _end, _q, out) => {
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
      walkScan(ioctl, 0n, addr(100), { returnMask: 2 }, new BigUint64Array(3));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ScanAborted);
    const aborted = caught as ScanAborted;
    expect(aborted.cause.code).toBe('EPERM');
    expect(aborted.partial.ranges).toEqual([[1, 2], [12, 14]]);
  });

  it('a kernel that makes no progress is an error, not an endless loop', () => {
    const ioctl: ScanIoctl = (start) => ({ count: 0, walkEnd: start });
    expect(() => walkScan(ioctl, 0n, addr(10), { returnMask: 2 }, new BigUint64Array(3))).toThrow(DirtyTrackError);
  });

  it('an empty range makes no call', () => {
    const ioctl = fakeKernel(new Set([1]));
    expect(walkScan(ioctl, addr(5), addr(5), { returnMask: 2 }, new BigUint64Array(3)).count).toBe(0);
    expect(ioctl.calls).toBe(0);
  });
});
