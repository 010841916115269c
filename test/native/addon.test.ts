// The binding's contract: it loads, checks its arguments, and turns failed system calls into Node-style errors.
import { closeSync, openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { native, nativeStatus } from '../../src/native/binding.js';
import { PAGE_IS, TRACKER_FEATURES } from '../../src/kernel/abi.js';
import { allocateLocatedBuffer } from '../../src/kernel/self-buffer.js';

const n = native()!;

function thrown(fn: () => unknown): any {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('native addon', () => {
  it('is built and loaded (npm install / npm run build:native)', () => {
    expect(nativeStatus()).toEqual({ loaded: true });
    expect(Object.keys(n).sort()).toEqual(
      ['bufferAddress', 'injectSyscall', 'pagemapReadWalk', 'pagemapScan', 'pagemapScanWalk', 'pidfdGetfd', 'pidfdOpen', 'seccompFilters', 'uffdApi', 'uffdRegister', 'uffdUnregister', 'uffdWriteprotect', 'userfaultfd'].sort(),
    );
  });

  it('pagemapScanWalk refuses ranges that are unaligned, reversed or out of order', () => {
    const q = [0, 2, 0, 0, 2, 0, 16] as const;
    expect(() => n.pagemapScanWalk(0, BigUint64Array.of(1n, 4096n), ...q)).toThrow(TypeError);
    expect(() => n.pagemapScanWalk(0, BigUint64Array.of(8192n, 4096n), ...q)).toThrow(TypeError);
    expect(() => n.pagemapScanWalk(0, BigUint64Array.of(8192n, 12288n, 0n, 4096n), ...q)).toThrow(TypeError);
    expect(() => n.pagemapScanWalk(0, BigUint64Array.of(0n), ...q)).toThrow(TypeError);
  });

  it('rejects wrong arguments with TypeError before any system call', () => {
    expect(() => (n.pidfdOpen as any)()).toThrow(TypeError);
    expect(() => (n.pidfdOpen as any)('1', 0)).toThrow(/pid/);
    expect(() => n.pidfdOpen(1.5, 0)).toThrow(TypeError);
    expect(() => n.uffdRegister(-1, 0n, 4096n, 2)).toThrow(TypeError);
    expect(() => n.uffdRegister(0, -1n, 4096n, 2)).toThrow(/start/);
    expect(() => n.pagemapScan(0, 0n, 4096n, 0, 0, 0, 0, 0, 0, new Uint32Array(3) as any)).toThrow(/BigUint64Array/);
    expect(() => n.injectSyscall(1, 0n, 39, [0n], 1000, -1)).toThrow(/6 BigInts/);
  });

  it('failed system calls throw Node-style errors: code, negative errno, syscall', () => {
    const devnull = openSync('/dev/null', 'r');
    try {
      const e = thrown(() => n.pagemapScan(devnull, 0n, 4096n, 0, 0, 0, 0, 2, 0, new BigUint64Array(3)));
      expect(e).toMatchObject({ code: 'ENOTTY', errno: -25, syscall: 'ioctl(PAGEMAP_SCAN)', count: 0 });
      expect(e.message).toMatch(/^ioctl\(PAGEMAP_SCAN\): /);
    } finally {
      closeSync(devnull);
    }
    expect(thrown(() => n.pidfdOpen(2 ** 22 + 12345, 0))).toMatchObject({ code: 'ESRCH', errno: -3, syscall: 'pidfd_open' });
    expect(thrown(() => n.uffdWriteprotect(1 << 20, 0n, 4096n, true))).toMatchObject({ code: 'EBADF', syscall: 'ioctl(UFFDIO_WRITEPROTECT)' });
  });

  it('pagemapScan finds a page this process just wrote, as (start, end, categories)', () => {
    // Its neighbours are present too, as the zero page (allocateLocatedBuffer read them): excluded by inverting PFNZERO.
    const { buffer, address } = allocateLocatedBuffer(33 * 1024 * 1024);
    const page = (address + 4095n) & ~4095n;
    buffer[Number(page - address) + 4096 * 3] = 1;
    const fd = openSync('/proc/self/pagemap', 'r');
    try {
      const out = new BigUint64Array(3 * 8);
      const r = n.pagemapScan(fd, page, page + 4096n * 8n, 0, PAGE_IS.PRESENT | PAGE_IS.PFNZERO, PAGE_IS.PFNZERO, 0, PAGE_IS.PRESENT, 0, out);
      expect(r.count).toBe(1);
      expect(r.walkEnd).toBe(page + 4096n * 8n);
      expect([...out.slice(0, 3)]).toEqual([page + 4096n * 3n, page + 4096n * 4n, BigInt(PAGE_IS.PRESENT)]);
    } finally {
      closeSync(fd);
    }
  });

  it('userfaultfd + UFFDIO_API grants async write-protection on this kernel; a second handshake is refused', () => {
    const fd = n.userfaultfd(0o2004000);
    try {
      const available = n.uffdApi(fd, TRACKER_FEATURES);
      expect(available & TRACKER_FEATURES).toBe(TRACKER_FEATURES);
      expect(thrown(() => n.uffdApi(fd, TRACKER_FEATURES))).toMatchObject({ code: 'EINVAL', syscall: 'ioctl(UFFDIO_API)' });
    } finally {
      closeSync(fd);
    }
  });

  it('pidfdGetfd copies a descriptor of another process (here: our own stdin)', () => {
    const pidfd = n.pidfdOpen(process.pid, 0);
    try {
      const fd = n.pidfdGetfd(pidfd, 0);
      expect(fd).toBeGreaterThan(2);
      closeSync(fd);
      expect(thrown(() => n.pidfdGetfd(pidfd, 1 << 20))).toMatchObject({ code: 'EBADF', syscall: 'pidfd_getfd' });
    } finally {
      closeSync(pidfd);
    }
  });
});
