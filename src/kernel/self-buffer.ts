import { closeSync, openSync, readSync } from 'node:fs';
import { readMaps } from '../proc/maps.js';
import { DirtyTrackError, invalidArgument } from '../errors.js';

/**
 * Allocate an ArrayBuffer and find its virtual address in this process, without native code.
 * Above 32 MiB glibc malloc always serves the allocation with its own mmap, so the buffer lies in
 * address space that was not mapped before; a random marker written at byte 0 is then located by
 * reading /proc/self/mem over that new space.
 */
export function allocateLocatedBuffer(bytes: number): { buffer: Uint8Array; address: bigint } {
  if (bytes < 33 * 1024 * 1024) throw invalidArgument('allocate at least 33 MiB so malloc uses a fresh mmap');
  const before = readMaps('self');
  const buffer = new Uint8Array(bytes);
  const marker = Buffer.from(Array.from({ length: 16 }, () => Math.floor(Math.random() * 256))); // node:crypto costs ms to load
  buffer.set(marker, 0);
  const after = readMaps('self');
  const known = before.map((r) => [r.start, r.end] as const);
  const fd = openSync('/proc/self/mem', 'r');
  try {
    const window = Buffer.alloc(64 * 1024);
    for (const r of after) {
      if (r.end - r.start < BigInt(bytes) || r.path !== '') continue;
      // First address of r not covered by a region that existed before the allocation.
      let start = r.start;
      for (const [s, e] of known) if (s <= start && start < e) start = e;
      if (start >= r.end) continue;
      const n = readSync(fd, window, 0, window.length, start);
      const at = window.subarray(0, n).indexOf(marker);
      if (at >= 0) return { buffer, address: start + BigInt(at) };
    }
  } finally {
    closeSync(fd);
  }
  throw new DirtyTrackError('EIO', 'could not locate the buffer in /proc/self/maps');
}
