import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

function cpuTimes(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total }; // minus idle and iowait
}

/** Share of all CPUs busy (any process) over `ms` milliseconds, in %. */
export async function busyPct(ms = 1000): Promise<number> {
  const a = cpuTimes();
  await sleep(ms);
  const b = cpuTimes();
  return b.total > a.total ? (100 * (b.busy - a.busy)) / (b.total - a.total) : 0;
}

/** The 1-minute load average. */
export const loadavg = (): number => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

/**
 * Wait until the machine is quiet (under `maxBusy` % of CPU busy over a second) or `timeoutMs` passes.
 * Other work on the machine (builds, tests, a QEMU lab guest) makes every time here slower and noisier.
 */
export async function waitQuiet(maxBusy: number, timeoutMs: number, log: (m: string) => void): Promise<{ busy: number; waitedMs: number }> {
  const t0 = Date.now();
  let busy = await busyPct();
  let told = false;
  while (busy > maxBusy && Date.now() - t0 < timeoutMs) {
    if (!told) log(`bench: the machine is busy (${busy.toFixed(0)} % of CPU in use by other processes): waiting up to ${Math.round(timeoutMs / 60000)} min for it to be quiet`);
    told = true;
    await sleep(5000);
    busy = await busyPct();
  }
  if (busy > maxBusy) log(`bench: still busy (${busy.toFixed(0)} %): measuring anyway; the report says so`);
  return { busy, waitedMs: Date.now() - t0 };
}
