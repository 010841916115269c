import { readFileSync } from 'node:fs';

interface Snapshot { total: number; busy: number; steal: number; own: number }

/**
 * CPU time in clock ticks: all CPUs from /proc/stat (busy = not idle or iowait; steal = time the
 * hypervisor gave this VM's CPUs to others), and this process with its waited-for children (targets,
 * C readers) from /proc/self/stat.
 */
function snapshot(): Snapshot {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const own = stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(11, 15).map(Number).reduce((a, b) => a + b, 0); // utime stime cutime cstime
  return { total, busy: total - f[3] - f[4], steal: f[7] ?? 0, own };
}

/**
 * Run fn and say how disturbed the machine was meanwhile: the share of all CPU time the hypervisor
 * stole, and the share used by processes other than the bench and its children.
 */
export async function withSteal<T>(fn: () => Promise<T>): Promise<{ result: T; stealPct: number; othersPct: number }> {
  const a = snapshot();
  const result = await fn();
  const b = snapshot();
  const total = b.total - a.total;
  if (total <= 0) return { result, stealPct: 0, othersPct: 0 };
  const others = b.busy - a.busy - (b.own - a.own) - (b.steal - a.steal);
  return { result, stealPct: (100 * (b.steal - a.steal)) / total, othersPct: Math.max(0, (100 * others) / total) };
}
