/** Summary of repeated timings: median with the interquartile and full ranges. */
export interface Stats {
  n: number;
  median: number;
  p25: number;
  p75: number;
  min: number;
  max: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, median: quantile(s, 0.5), p25: quantile(s, 0.25), p75: quantile(s, 0.75), min: s[0], max: s[s.length - 1] };
}

/** "12.3 (12.1–12.6)": median and p25–p75, in the unit the samples are in. */
export function fmt(s: Stats, digits?: number): string {
  const f = (v: number) => num(v, digits);
  return `${f(s.median)} (${f(s.p25)}–${f(s.p75)})`;
}

/** A number with about three significant digits, or a fixed number of decimals. */
export function num(v: number, digits?: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (digits !== undefined) return v.toFixed(digits);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : a >= 0.01 ? v.toFixed(3) : v.toPrecision(2);
}

/**
 * Ratio of two timed quantities with a spread: the median of a over the median of b, and the range
 * p25(a)/p75(b) – p75(a)/p25(b) (the ratio's spread when the two are independent).
 */
export function ratio(a: Stats, b: Stats): { median: number; lo: number; hi: number } {
  return { median: a.median / b.median, lo: a.p25 / b.p75, hi: a.p75 / b.p25 };
}

export function fmtRatio(r: { median: number; lo: number; hi: number }): string {
  return `${num(r.median, 2)}× (${num(r.lo, 2)}–${num(r.hi, 2)})`;
}

/** A ratio measured directly (one value per round): median (p25–p75). */
export function fmtRatioStats(s: Stats): string {
  return `${num(s.median, 2)}× (${num(s.p25, 2)}–${num(s.p75, 2)})`;
}

export const nowNs = (): bigint => process.hrtime.bigint();
export const msSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

/** Time fn `reps` times after `warmup` untimed calls; returns milliseconds per call. */
export function timeMs(fn: () => void, reps: number, warmup = 1): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = nowNs();
    fn();
    out.push(msSince(t0));
  }
  return out;
}

/** Time fn like timeMs, also returning the process's CPU time (user + system, all threads) per call. */
export function timeWallCpu(fn: () => void, reps: number, warmup = 1): { wall: number[]; cpu: number[] } {
  for (let i = 0; i < warmup; i++) fn();
  const wall: number[] = [], cpu: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = nowNs();
    fn();
    wall.push(msSince(t0));
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall, cpu };
}
