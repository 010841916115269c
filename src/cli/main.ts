import { EXIT, exitCodeFor } from '../errors.js';
import { usageError } from './args.js';
import { errorText } from './error-text.js';
import { CLEAR_USAGE, clearCommand } from './clear.js';
import { DETACH_USAGE, detachCommand } from './detach.js';
import { DOCTOR_USAGE, doctorCommand } from './doctor.js';
import { print } from './output.js';
import { SCAN_USAGE, scanCommand } from './scan.js';
import { TARGET_USAGE } from './targets.js';
import { SERVE_OPTIONS_USAGE, SERVE_USAGE, serveCommand } from './serve.js';
import { WATCH_OPTIONS_USAGE, WATCH_USAGE, watchCommand } from './watch.js';

export const USAGE = `usage: dirtytrack <command> [options]

commands:
${SCAN_USAGE}
${CLEAR_USAGE}
${WATCH_USAGE}
${DETACH_USAGE}
${DOCTOR_USAGE}
${SERVE_USAGE}

${TARGET_USAGE}

backends (--backend): auto (default), soft-dirty, pagemap-scan, uffd-wp
exit codes: 0 ok, 1 unexpected error (the only one with a stack trace), 2 usage, 3 no such process,
            4 permission denied, 5 capability missing (e.g. kernel without CONFIG_MEM_SOFT_DIRTY),
            6 busy: another dirtytrack tracks the process, 7 output could not be written (e.g. disk full);
            watch ended by a signal: 128 + its number (SIGHUP 129, SIGINT 130, SIGTERM 143),
            by a closed stdout: 141 (as SIGPIPE),
            143 serve stopped by SIGTERM
${WATCH_OPTIONS_USAGE}
${SERVE_OPTIONS_USAGE}`;

const COMMANDS: Record<string, (args: string[]) => Promise<void | number>> = {
  scan: scanCommand,
  clear: clearCommand,
  watch: watchCommand,
  detach: detachCommand,
  doctor: doctorCommand,
  serve: serveCommand,
};

/** Run one command; the exit code it returns is documented in USAGE and README.md. */
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
    process.stderr.write(errorText(err, code));
    return code;
  }
}

