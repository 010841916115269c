// Tracking this process's own memory (uffd-wp without ptrace): the pages found must be exactly the
// pages this test wrote, located through the addon's bufferAddress.
import { afterEach, describe, expect, it } from 'vitest';
import { trackBuffers, type BufferTracker } from '../../src/backends/buffer-tracker.js';
import { openBackend } from '../../src/backends/select.js';
import { native } from '../../src/native/binding.js';
import type { Backend } from '../../src/types.js';

const PAGE = 4096;
const open: Array<BufferTracker | Backend> = [];
afterEach(() => { for (const t of open.splice(0)) t.close(); });

/** Pseudo-random distinct byte offsets spread over `bytes`, with a fixed seed. */
function offsets(bytes: number, count: number, seed: number): number[] {
  const out = new Set<number>();
  let x = seed;
  while (out.size < count) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out.add(x % bytes);
  }
  return [...out];
}

/** Absolute page numbers the byte runs [s, e) of a buffer at `address` cover. */
function pagesOfRuns(address: bigint, runs: Float64Array): Set<number> {
  const base = Number(address);
  const out = new Set<number>();
  for (let i = 0; i < runs.length; i += 2) {
    for (let p = Math.floor((base + runs[i]) / PAGE); p < Math.ceil((base + runs[i + 1]) / PAGE); p++) out.add(p);
  }
  return out;
}

const pagesWritten = (address: bigint, offs: number[]) => new Set(offs.map((o) => Math.floor((Number(address) + o) / PAGE)));

describe('trackBuffers', () => {
  it('finds exactly the pages written in a 64 MiB buffer, round after round, with and without reset', () => {
    const buf = new Uint8Array(64 << 20);
    const address = native()!.bufferAddress(buf);
    const t = trackBuffers([buf]);
    open.push(t);
    t.clear();
    expect(t.scan().dirtyPages).toBe(0);
    for (let round = 1; round <= 3; round++) {
      const offs = offsets(buf.length, 50 * round, round);
      for (const o of offs) buf[o]++;
      const truth = pagesWritten(address, offs);
      const peek = t.scan(); // without reset: the same answer twice
      const r = t.scan({ reset: true });
      expect(peek.buffers[0].runs).toEqual(r.buffers[0].runs);
      expect(r.dirtyPages).toBe(truth.size);
      expect(pagesOfRuns(address, r.buffers[0].runs)).toEqual(truth);
      expect(t.scan().dirtyPages).toBe(0); // reset re-protected them
    }
  });

  it('reports byte offsets clipped to each buffer, in the order given, for views and small buffers too', () => {
    const big = new Float64Array(8 << 20); // 64 MiB
    const small = new Uint8Array(3 * PAGE + 100);
    const view = new Uint8Array(big.buffer, 8 * PAGE + 5, 2 * PAGE); // inside big
    const t = trackBuffers([small, big, view]);
    open.push(t);
    t.clear();
    small[small.length - 1] = 1;
    view[0] = 7;
    const r = t.scan({ reset: true });
    const [s, b, v] = r.buffers;
    // small: its last byte's page is reported, clipped at the buffer's end (its first pages may share
    // with other heap data: never fewer pages than written is what holds there)
    expect(s.runs[s.runs.length - 1]).toBe(small.length);
    const smallAddr = native()!.bufferAddress(small);
    expect(pagesOfRuns(smallAddr, s.runs).has(Math.floor((Number(smallAddr) + small.length - 1) / PAGE))).toBe(true);
    // big: exactly the page of view[0]
    const bigAddr = native()!.bufferAddress(big);
    expect(pagesOfRuns(bigAddr, b.runs)).toEqual(pagesWritten(bigAddr, [8 * PAGE + 5]));
    // the view: the same page, as offsets into the view, starting at 0
    expect(v.runs[0]).toBe(0);
    expect(pagesOfRuns(native()!.bufferAddress(view), v.runs)).toEqual(pagesWritten(bigAddr, [8 * PAGE + 5]));
  });

  it('refuses no buffers or a non-buffer, and a closed tracker', () => {
    expect(() => trackBuffers([])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => trackBuffers([{} as ArrayBuffer])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const t = trackBuffers([new Uint8Array(40 << 20)]);
    t.close();
    expect(() => t.scan()).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});

describe('openBackend(process.pid) with uffd-wp', () => {
  it('tracks this process itself without ptrace: exactly the pages written in a buffer', () => {
    const buf = new Uint8Array(48 << 20);
    const address = native()!.bufferAddress(buf);
    const range = { start: address, end: address + BigInt(buf.length) };
    const b = openBackend(process.pid, 'uffd-wp');
    open.push(b);
    b.clear();
    const offs = offsets(buf.length, 200, 9);
    for (const o of offs) buf[o]++;
    const r = b.scan({ range, reset: true });
    const found = new Set<number>();
    for (const region of r.regions) for (let i = 0; i < region.runs.length; i += 2) for (let p = region.runs[i]; p < region.runs[i + 1]; p++) found.add(p);
    expect(found).toEqual(pagesWritten(address, offs));
    expect(countIn(b.scan({ range }))).toBe(0);
  });
});

const countIn = (r: { dirtyPages: number }) => r.dirtyPages;
