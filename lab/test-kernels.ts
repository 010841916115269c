/**
 * `npm run test:kernels -- [--kernel NAME]... [lab options] [vitest args...]`
 * Runs the integration suite inside each Debian kernel in turn and prints a per-kernel summary.
 * Inside a guest vitest.config.ts collects test/lab/ and test/tracking/ (DIRTYTRACK_LAB is set).
 * Extra arguments filter it, e.g. `npm run test:kernels -- test/lab/kernel.test.ts` or
 * `-- --kernel deb13 -t scan`.
 */
import { kernels, type KernelName } from './config.js';
import {
  parseArgs,
  parseEnv,
  parseKernel,
  parseMemory,
  parseOrFail,
  parseTimeout,
  sharedOptionSpec,
  sharedOptionsHelp,
} from './cli-options.js';
import { LabError } from './errors.js';
import { runLab } from './run.js';

const VITEST = 'node_modules/.bin/vitest';
const DEFAULT_VITEST_ARGS: string[] = [];

const usage = `usage: npm run test:kernels -- [--kernel NAME]... [options] [--] [vitest args...]

Runs \`${VITEST} run <vitest args>\` (default: the suite vitest.config.ts selects inside a guest) inside each lab
kernel (deb12, then deb13) and exits non-zero if any run fails.

options:
  --kernel NAME       only this kernel; repeatable (default: all)
${sharedOptionsHelp}`;

const valueOptions = new Set(['--kernel', '--collect', '--mem', '--timeout', '--env']);
const flagOptions = new Set(['--refresh-kernel', '--help', '-h']);

/** Our options come first; the first other word (or `--`) starts vitest's arguments. */
function splitArgs(argv: string[]): { ours: string[]; vitest: string[] } {
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i]!;
    if (arg === '--') return { ours: argv.slice(0, i), vitest: argv.slice(i + 1) };
    const name = arg.split('=')[0]!;
    if (valueOptions.has(name)) i += arg.includes('=') ? 1 : 2;
    else if (flagOptions.has(arg)) i += 1;
    else break;
  }
  return { ours: argv.slice(0, i), vitest: argv.slice(i) };
}

interface KernelOutcome {
  kernel: KernelName;
  release: string;
  exitCode: number;
  seconds: number;
  error?: string;
}

async function main(): Promise<number> {
  const { ours, vitest } = splitArgs(process.argv.slice(2));
  const { values } = parseOrFail(() =>
    parseArgs({ args: ours, options: { kernel: { type: 'string', multiple: true, default: [] }, ...sharedOptionSpec } }),
  );
  if (values.help) {
    process.stdout.write(usage + '\n');
    return 0;
  }
  const selected = values.kernel.length ? values.kernel.map(parseKernel) : (Object.keys(kernels) as KernelName[]);
  const command = [VITEST, 'run', ...(vitest.length ? vitest : DEFAULT_VITEST_ARGS)];
  const base = {
    command,
    collect: values.collect,
    memory: parseMemory(values.mem),
    timeoutSeconds: parseTimeout(values.timeout),
    refreshKernel: values['refresh-kernel'],
    criu: values.criu,
    env: parseEnv(values.env),
  };

  const outcomes: KernelOutcome[] = [];
  for (const kernel of selected) {
    process.stderr.write(`\ntest:kernels: ${kernel}: ${command.join(' ')}\n`);
    const started = performance.now();
    try {
      const result = await runLab({ ...base, kernel });
      outcomes.push({ kernel, release: result.kernelRelease, exitCode: result.exitCode, seconds: result.seconds.total });
    } catch (error) {
      if (!(error instanceof LabError)) throw error;
      process.stderr.write(error.message + '\n');
      const seconds = Math.round((performance.now() - started) / 100) / 10;
      outcomes.push({ kernel, release: '?', exitCode: error.exitCode, seconds, error: error.message });
      if (error.exitCode === 130 || error.exitCode === 143) break; // interrupted: stop here
    }
  }

  process.stderr.write('\ntest:kernels summary\n');
  for (const o of outcomes) {
    const verdict = o.exitCode === 0 ? 'PASS' : o.error ? 'ERROR' : 'FAIL';
    process.stderr.write(
      `  ${o.kernel}  ${o.release.padEnd(28)} ${verdict.padEnd(5)}  exit ${o.exitCode}, ${o.seconds.toFixed(1)} s${o.error ? `  (${o.error})` : ''}\n`,
    );
  }
  const skipped = selected.slice(outcomes.length);
  if (skipped.length) process.stderr.write(`  not run: ${skipped.join(', ')}\n`);
  return outcomes.every((o) => o.exitCode === 0) && skipped.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof LabError) {
      process.stderr.write(error.message + '\n');
      process.exit(error.exitCode);
    }
    throw error;
  },
);
