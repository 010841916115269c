/**
 * Shared by the VM experiments: a lab guest running a ground-truth rate-writer, tracked from the host
 * on the QEMU process (guest RAM only, through src/targets/vm.ts), with the truth from the writer's
 * own write counter inside the guest.
 */
import { execFileSync } from 'node:child_process';
import { openBackend } from '../../src/backends/select.js';
import { guestRamRegions, type GuestRam } from '../../src/targets/vm.js';
import type { Backend, BackendName } from '../../src/types.js';
import { bootVmGuest, type VmGuest } from '../../lab/vm-guest.js';
import type { KernelName } from '../../lab/config.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function qemuVersion(): string {
  return /version ([\w.+~:-]+)/.exec(execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
}

export interface Interval {
  ms: number;
  /** Writes the guest's writer completed in the interval: distinct pages while fewer than its working set. */
  truth: number;
  /** Pages dirtytrack found written in guest RAM, and in the whole QEMU process. */
  ram: number;
  process: number;
}

/** What a watch of the running guest saw: the input of a pre-copy prediction. */
export interface Observation {
  intervals: Interval[];
  /** Mean distinct guest-RAM pages per second (per 1 s interval). */
  ratePagesPerSec: number;
  truthPagesPerSec: number;
  /** Union of all intervals' pages. */
  workingSetPages: number;
  /** curve[k-1]: mean distinct pages over k consecutive intervals. */
  curve: number[];
  intervalSeconds: number;
}

/** Distinct bytes dirtied in t seconds from an observed curve: interpolated, extrapolated at the last slope. */
export function curveFunction(o: Observation, pageSize: number, capBytes: number): (t: number) => number {
  const pts = [0, ...o.curve];
  const step = o.intervalSeconds;
  return (t) => {
    const x = t / step;
    const i = Math.min(Math.floor(x), pts.length - 2);
    const slope = pts[i + 1]! - pts[i]!;
    return Math.min((pts[i]! + slope * (x - i)) * pageSize, capBytes);
  };
}

export class TrackedGuest {
  private constructor(readonly guest: VmGuest, readonly ram: GuestRam, readonly backend: Backend) {}

  static async boot(kernel: KernelName, memory: string, backend: BackendName | 'auto' = 'uffd-wp'): Promise<TrackedGuest> {
    const guest = await bootVmGuest({ kernel, memory, log: (l) => process.stderr.write(`  ${l}\n`) });
    try {
      const ram = guestRamRegions(guest.pid);
      const be = openBackend(guest.pid, backend);
      be.clear();
      return new TrackedGuest(guest, ram, be);
    } catch (err) {
      await guest.stop();
      throw err;
    }
  }

  get pageSize(): number {
    return 4096;
  }

  /** Starts a uniform rate-writer over `pages` pages at `rate` pages/s in the guest (replacing any other). */
  async startWriter(pages: number, rate: number): Promise<void> {
    await this.guest.agent.spawn(['workloads/bin/rate-writer', '--pages', String(pages), '--rate', String(rate), '--log-capacity', '65536', '--seed', '7']);
    await this.guest.agent.send('start');
  }

  async writes(): Promise<number> {
    const s = await this.guest.agent.send<{ writes?: number }>('status');
    return s.writes ?? 0;
  }

  private inRam(start: bigint): boolean {
    return this.ram.regions.some((r) => start >= r.start && start < r.end);
  }

  /** Clears, waits `ms`, scans. The writer's count is read right after each reset, so the serial latency cancels. */
  /** `n` one-second intervals, keeping each interval's guest-RAM pages for the working set and the curve. */
  async observe(n: number): Promise<Observation> {
    const maps: Uint8Array[] = [];
    const intervals: Interval[] = [];
    for (let i = 0; i < n; i++) {
      const bitmap = new Uint8Array(this.ramPages);
      intervals.push(await this.interval(1000, true, bitmap));
      maps.push(bitmap);
    }
    const curve: number[] = [];
    const union = new Uint8Array(this.ramPages);
    for (let k = 1; k <= n; k++) {
      let sum = 0;
      for (let start = 0; start + k <= n; start++) {
        union.fill(0);
        for (let j = start; j < start + k; j++) { const m = maps[j]!; for (let p = 0; p < m.length; p++) union[p]! |= m[p]!; }
        sum += union.reduce((a, b) => a + b, 0);
      }
      curve.push(sum / (n - k + 1));
    }
    const secs = intervals.reduce((a, i) => a + i.ms, 0) / 1000;
    return {
      intervals, curve, intervalSeconds: 1, workingSetPages: curve[n - 1]!,
      ratePagesPerSec: intervals.reduce((a, i) => a + i.ram, 0) / secs,
      truthPagesPerSec: intervals.reduce((a, i) => a + i.truth, 0) / secs,
    };
  }

  get ramPages(): number {
    return this.ram.regions.reduce((a, r) => a + Number(r.end - r.start) / this.pageSize, 0);
  }

  /** Marks a scan's guest-RAM pages in a bitmap over guest RAM (the regions laid end to end). */
  private mark(bitmap: Uint8Array, start: bigint, runs: Float64Array): void {
    let offset = 0;
    for (const r of this.ram.regions) {
      const first = Number(r.start) / this.pageSize;
      const pages = Number(r.end - r.start) / this.pageSize;
      if (start >= r.start && start < r.end) {
        for (let i = 0; i < runs.length; i += 2) for (let p = runs[i]!; p < runs[i + 1]!; p++) if (p >= first && p < first + pages) bitmap[offset + p - first] = 1;
        return;
      }
      offset += pages;
    }
  }

  async interval(ms: number, writer = true, bitmap?: Uint8Array): Promise<Interval> {
    this.backend.scan({ reset: true });
    const t0 = performance.now();
    const w0 = writer ? await this.writes() : 0;
    await sleep(ms - (performance.now() - t0));
    const s = this.backend.scan({ reset: true });
    const t1 = performance.now();
    const w1 = writer ? await this.writes() : 0;
    const inRam = s.regions.filter((r) => this.inRam(r.region.start));
    if (bitmap) for (const r of inRam) this.mark(bitmap, r.region.start, r.runs);
    const ram = inRam.reduce((a, r) => a + r.dirtyPages, 0);
    return { ms: t1 - t0, truth: w1 - w0, ram, process: s.dirtyPages };
  }

  async stop(): Promise<void> {
    try {
      this.backend.close();
    } finally {
      await this.guest.stop();
    }
  }
}
