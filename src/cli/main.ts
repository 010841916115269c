import { DirtyTrackError, EXIT, exitCodeFor } from '../errors.js';
import { openBackend } from '../backends/select.js';
import { doctor, doctorToText } from '../doctor.js';
import { scanToJson } from '../report/scan-json.js';
import { scanToText } from '../report/scan-text.js';
import { parseBackend, parseCommandArgs, parsePid, usageError } from './args.js';
import { watchCommand, WATCH_USAGE } from './watch.js';

export const USAGE = `usage: dirtytrack <command> [options]

commands:
  scan <pid> [--json] [--backend B] [--include-unpopulated] [--reset] [--verbose]
        report the pages <pid> wrote since the last clear
  clear <pid> [--backend B]
        reset tracking: afterwards only new writes are reported
  watch <pid> [options]
        clear, wait, scan, repeatedly, until the dirty count per interval is nearly constant
  detach <pid>
        remove the userfaultfd that the uffd-wp backend left inside <pid>
  doctor [pid] [--json]
        what this kernel can track, and whether <pid> can be tracked

backends (--backend): auto (default), soft-dirty, pagemap-scan, uffd-wp
exit codes: 0 ok, 1 unexpected error, 2 usage, 3 no such process, 4 permission denied,
            5 capability missing (e.g. kernel without CONFIG_MEM_SOFT_DIRTY), 130 interrupted
${WATCH_USAGE}`;

const print = (s: string) => process.stdout.write(s + '\n');

async function scanCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, {
    json: { type: 'boolean' },
    backend: { type: 'string' },
    'include-unpopulated': { type: 'boolean' },
    reset: { type: 'boolean' },
    verbose: { type: 'boolean', short: 'v' },
  });
  if (positionals.length > 1) throw usageError(`unexpected argument '${positionals[1]}'`);
  const pid = parsePid(positionals[0]);
  const backend = openBackend(pid, parseBackend(values.backend));
  try {
    const result = backend.scan({ includeUnpopulated: values['include-unpopulated'], reset: values.reset });
    print(values.json ? JSON.stringify(scanToJson(result)) : scanToText(result, { verbose: values.verbose }));
  } finally {
    backend.release();
  }
}

async function clearCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, { backend: { type: 'string' } });
  if (positionals.length > 1) throw usageError(`unexpected argument '${positionals[1]}'`);
  const pid = parsePid(positionals[0]);
  const backend = openBackend(pid, parseBackend(values.backend));
  try {
    backend.clear();
    process.stderr.write(`cleared ${pid} (backend ${backend.name})\n`);
  } finally {
    backend.release();
  }
}

async function detachCommand(args: string[]): Promise<void> {
  const { positionals } = parseCommandArgs(args, {});
  const pid = parsePid(positionals[0]);
  const { detachUffd } = await import('../backends/uffd-wp/backend.js');
  const removed = detachUffd(pid);
  process.stderr.write(removed ? `detached from ${pid}: userfaultfd unregistered and closed\n` : `nothing to detach: ${pid} holds no userfaultfd\n`);
}

async function doctorCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean' } });
  const pid = positionals[0] === undefined ? undefined : parsePid(positionals[0]);
  const report = doctor(pid);
  print(values.json ? JSON.stringify(report) : doctorToText(report));
}

const COMMANDS: Record<string, (args: string[]) => Promise<void | number>> = {
  scan: scanCommand,
  clear: clearCommand,
  watch: watchCommand,
  detach: detachCommand,
  doctor: doctorCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    print(USAGE);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  try {
    const run = COMMANDS[command];
    if (!run) throw usageError(`unknown command '${command}'`);
    return (await run(rest)) ?? EXIT.ok;
  } catch (err) {
    const code = exitCodeFor(err);
    if (err instanceof DirtyTrackError) {
      process.stderr.write(`dirtytrack: ${err.message}\n`);
      if (err.code === 'EUSAGE') process.stderr.write(`run 'dirtytrack --help' for usage\n`);
    } else {
      process.stderr.write(`dirtytrack: unexpected error\n${(err as Error)?.stack ?? String(err)}\n`);
    }
    return code;
  }
}
