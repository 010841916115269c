import { readFileSync } from 'node:fs';

/** Aggregate CPU jiffies from /proc/stat: steal is time the hypervisor gave this VM's CPUs to others. */
function cpuLine(): { total: number; steal: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { total, steal: f[7] ?? 0 };
}

/** Measure the share of CPU time stolen by the hypervisor while fn runs. */
export async function withSteal<T>(fn: () => Promise<T>): Promise<{ result: T; stealPct: number }> {
  const a = cpuLine();
  const result = await fn();
  const b = cpuLine();
  const total = b.total - a.total;
  return { result, stealPct: total > 0 ? (100 * (b.steal - a.steal)) / total : 0 };
}
