import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DirtyTrackError } from '../errors.js';
import { PID_MAX } from '../kernel/abi.js';
import { BACKEND_NAMES, type BackendChoice } from '../backends/select.js';


export function usageError(message: string): DirtyTrackError {
  return new DirtyTrackError('EUSAGE', message);
}

export function parsePid(value: string | undefined, what = 'pid'): number {
  if (value === undefined) throw usageError(`missing ${what}`);
  if (!/^[0-9]+$/.test(value)) throw usageError(`invalid ${what} '${value}': expected a positive integer`);
  const pid = Number(value);
  if (pid < 1 || pid > PID_MAX) throw usageError(`invalid ${what} '${value}': pids range from 1 to ${PID_MAX}`);
  return pid;
}

export function parseBackend(value: string | undefined): BackendChoice {
  const v = value ?? 'auto';
  if (v === 'auto' || (BACKEND_NAMES as readonly string[]).includes(v)) return v as BackendChoice;
  throw usageError(`invalid --backend '${v}': expected auto, ${BACKEND_NAMES.join(', ')}`);
}

/** The longest wait a Node timer can take (2^31 − 1 ms, about 24.8 days): beyond it a timer fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000 } as const;

/** Duration: "200" (ms), "50ms", "1.5s", "2m"; above zero and at most MAX_TIMER_MS. */
export function parseDuration(value: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value);
  if (!m) throw usageError(`invalid ${what} '${value}': expected a duration such as 200ms, 1s or 2m`);
  const n = Number(m[1]) * DURATION_UNITS[(m[2] ?? 'ms') as keyof typeof DURATION_UNITS];
  if (!(n > 0)) throw usageError(`invalid ${what} '${value}': must be greater than zero`);
  if (n > MAX_TIMER_MS) throw usageError(`invalid ${what} '${value}': at most ${MAX_TIMER_MS} ms (24.8 days)`);
  return n;
}

/** A whole number of at least `min`. */
export function parseCount(value: string, what: string, min = 1): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw usageError(`invalid ${what} '${value}': expected a whole number of at least ${min}`);
  return n;
}

/** A relative tolerance, one rule: a percentage below 100 ("5%", "0.5%") or a fraction below 1 ("0.05"). */
export function parseTolerance(value: string, what = '--tolerance'): number {
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(value);
  const n = pct ? Number(pct[1]) / 100 : /^(0|0?\.\d+)$/.test(value) ? Number(value) : NaN;
  if (!(n >= 0 && n < 1)) throw usageError(`invalid ${what} '${value}': expected a percentage below 100 such as 5%, or a fraction below 1 such as 0.05`);
  return n;
}

/** Rate in bytes per second: "100MB/s", "1GiB", "10Gbit" (bits), plain number = MiB/s. */
export function parseBandwidth(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(i?)(bit|b|B)?(?:\/s)?$/.exec(value.trim());
  if (!m) throw usageError(`invalid --bandwidth '${value}': expected e.g. 1GiB/s, 100MB/s or 10Gbit/s`);
  const unitless = !m[2] && !m[4];
  const base = m[3] ? 1024 : 1000;
  const scale = unitless ? 1024 * 1024 : base ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase());
  const bits = m[4] === 'bit' || m[4] === 'b';
  const rate = (Number(m[1]) * scale) / (bits ? 8 : 1);
  if (!(rate > 0)) throw usageError(`invalid --bandwidth '${value}': must be greater than zero`);
  return rate;
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>>;

/** parseArgs with its errors turned into usage errors. */
export function parseCommandArgs<T extends Options>(args: string[], options: T): Parsed<T> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw usageError((err as Error).message.split('\n')[0]);
  }
}
