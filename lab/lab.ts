/**
 * `npm run lab -- --kernel deb12|deb13 [options] -- <command...>`
 * Runs a command in /project inside a Debian soft-dirty kernel booted under QEMU.
 * See lab/README.md.
 */
import {
  parseArgs,
  parseEnv,
  parseKernel,
  parseMemory,
  parseOrFail,
  parseTimeout,
  sharedOptionSpec,
  sharedOptionsHelp,
  splitAtDoubleDash,
} from './cli-options.js';
import { LabError } from './errors.js';
import { runLab } from './run.js';

const usage = `usage: npm run lab -- --kernel deb12|deb13 [options] -- <command...>

Boots Debian 12's (deb12, 6.1) or Debian 13's (deb13, 6.12) cloud kernel under QEMU and
runs <command> in /project, a copy of this working tree. Several words are run as argv;
a single word is run as a shell script (sh -c). Exits with the command's status,
124 on timeout, 125 when the lab itself fails.

options:
  --kernel NAME       deb12 or deb13 (required)
${sharedOptionsHelp}`;

async function main(): Promise<number> {
  const { before, after } = splitAtDoubleDash(process.argv.slice(2));
  const { values, positionals } = parseOrFail(() =>
    parseArgs({ args: before, options: { kernel: { type: 'string' }, ...sharedOptionSpec }, allowPositionals: true }),
  );
  if (values.help) {
    process.stdout.write(usage + '\n');
    return 0;
  }
  if (positionals.length > 0 || !after || after.length === 0) {
    throw new LabError('lab: put the command after --, e.g. npm run lab -- --kernel deb13 -- uname -r', 2);
  }
  const result = await runLab({
    kernel: parseKernel(values.kernel),
    command: after,
    collect: values.collect,
    memory: parseMemory(values.mem),
    timeoutSeconds: parseTimeout(values.timeout),
    refreshKernel: values['refresh-kernel'],
    criu: values.criu,
    env: parseEnv(values.env),
  });
  return result.exitCode;
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
