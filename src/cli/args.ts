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

/** Duration: "200" (ms), "50ms", "1.5s", "2m". */
export function parseDuration(value: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!m) throw usageError(`invalid ${what} '${value}': expected a duration such as 200ms, 1s or 2m`);
  const n = Number(m[1]) * ({ ms: 1, s: 1000, m: 60000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm']);
  if (!(n > 0)) throw usageError(`invalid ${what} '${value}': must be greater than zero`);
  return n;
}

/** Positive number, optionally a percentage ("5%" → 0.05 when asFraction). */
export function parseNumber(value: string, what: string, { asFraction = false, integer = false, min = 0 } = {}): number {
  const pct = value.trim().endsWith('%');
  const n = Number(pct ? value.trim().slice(0, -1) : value);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) throw usageError(`invalid ${what} '${value}'`);
  return pct || (asFraction && n > 1) ? n / 100 : n;
}

/** Rate in bytes per second: "100MB/s", "1GiB", "10Gbit" (bits), plain number = MiB/s. */
export function parseBandwidth(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(i?)(bit|b|B)?(?:\/s)?$/.exec(value.trim());
  if (!m) throw usageError(`invalid --bandwidth '${value}': expected e.g. 1GiB/s, 100MB/s or 10Gbit/s`);
  const unitless = !m[2] && !m[4];
  const base = m[3] ? 1024 : 1000;
  const scale = unitless ? 1024 * 1024 : base ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase());
  const bits = m[4] === 'bit' || m[4] === 'b';
  return (Number(m[1]) * scale) / (bits ? 8 : 1);
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
