import { parseArgs } from 'node:util';
import { isKernelName, kernels, type KernelName } from './config.js';
import { LabError } from './errors.js';

/** Options shared by `npm run lab` and `npm run test:kernels`. */
export const sharedOptionSpec = {
  collect: { type: 'string', multiple: true, default: [] as string[] },
  mem: { type: 'string', default: '4G' },
  timeout: { type: 'string', default: '1500' },
  env: { type: 'string', multiple: true, default: [] as string[] },
  'refresh-kernel': { type: 'boolean', default: false },
  criu: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const sharedOptionsHelp = `  --collect PATH      copy PATH (relative to the project) back from the guest afterwards,
                      overwriting host files; repeatable
  --mem SIZE          guest memory, QEMU syntax (default 4G)
  --timeout SECONDS   stop the guest after this long (default 1500; exit code 124)
  --env NAME=VALUE    extra environment variable for the command; repeatable
  --refresh-kernel    re-resolve and download the newest kernel package
  --criu              add CRIU (Debian 12's package) and the kernel modules it needs`;

/** Splits argv at the first `--`: lab options before it, the guest command after it. */
export function splitAtDoubleDash(argv: string[]): { before: string[]; after: string[] | undefined } {
  const at = argv.indexOf('--');
  return at < 0 ? { before: argv, after: undefined } : { before: argv.slice(0, at), after: argv.slice(at + 1) };
}

export function parseKernel(value: string | undefined): KernelName {
  if (value && isKernelName(value)) return value;
  throw new LabError(`lab: --kernel must be one of ${Object.keys(kernels).join(', ')}${value ? ` (got ${value})` : ''}`, 2);
}

export function parseMemory(value: string): string {
  if (!/^\d+[MG]$/i.test(value)) throw new LabError(`lab: --mem must look like 4G or 2048M (got ${value})`, 2);
  return value;
}

export function parseTimeout(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new LabError(`lab: --timeout must be a positive number of seconds (got ${value})`, 2);
  return seconds;
}

export function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new LabError(`lab: --env expects NAME=VALUE (got ${pair})`, 2);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/** parseArgs with one-line errors instead of stack traces. */
export function parseOrFail<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof LabError) throw error;
    throw new LabError(`lab: ${(error as Error).message}`, 2);
  }
}

export { parseArgs };
