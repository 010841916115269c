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
  async interval(ms: number, writer = true): Promise<Interval> {
    this.backend.scan({ reset: true });
    const t0 = performance.now();
    const w0 = writer ? await this.writes() : 0;
    await sleep(ms - (performance.now() - t0));
    const s = this.backend.scan({ reset: true });
    const t1 = performance.now();
    const w1 = writer ? await this.writes() : 0;
    const ram = s.regions.filter((r) => this.inRam(r.region.start)).reduce((a, r) => a + r.dirtyPages, 0);
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
