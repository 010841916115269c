import { closeSync, openSync, readSync } from 'node:fs';

const MAGIC = 0x6b72747974726964n; // "dirtytrk", see workloads/rate-writer.c

/**
 * The ground truth a free-running target keeps in its own memory (workloads/rate-writer.c): a count of
 * completed writes and a ring log of the page index of each. Read through /proc/PID/mem — exact when
 * the target is frozen, and a bracket [count before, count after] when it is not.
 */
export class TruthLog {
  private readonly fd: number;
  private readonly buf = Buffer.alloc(32);
  private logAddr = 0n;
  private capacity = 0;

  constructor(readonly pid: number, readonly counterAddr: bigint) {
    this.fd = openSync(`/proc/${pid}/mem`, 'r');
    readSync(this.fd, this.buf, 0, 32, counterAddr);
    if (this.buf.readBigUInt64LE(0) !== MAGIC) throw new Error(`no truth counter at 0x${counterAddr.toString(16)} in ${pid}`);
    this.logAddr = this.buf.readBigUInt64LE(16);
    this.capacity = Number(this.buf.readBigUInt64LE(24));
  }

  /** How many writes the ring log holds before it wraps. */
  get logCapacity(): number {
    return this.capacity;
  }

  /** Writes completed so far. */
  count(): number {
    readSync(this.fd, this.buf, 0, 8, this.counterAddr + 8n);
    return Number(this.buf.readBigUInt64LE(0));
  }

  /** Page indices (relative to the region) of writes [from, to). */
  pages(from: number, to: number): number[] {
    if (to - from > this.capacity) throw new Error(`truth log overwritten: ${to - from} writes > capacity ${this.capacity}`);
    const out: number[] = [];
    const chunk = Buffer.alloc(8 * 65536);
    for (let n = from; n < to; ) {
      const slot = n % this.capacity;
      const k = Math.min(to - n, this.capacity - slot, 65536);
      readSync(this.fd, chunk, 0, 8 * k, this.logAddr + BigInt(slot) * 8n);
      for (let i = 0; i < k; i++) out.push(Number(chunk.readBigUInt64LE(8 * i)));
      n += k;
    }
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}
