import { EXIT, exitCodeFor } from '../errors.js';
import { usageError } from './args.js';
import { errorText } from './error-text.js';
import { print } from './output.js';

type Command = (args: string[]) => Promise<void | number>;

/**
 * Each command's module is loaded when that command runs: `scan` does not pay for the imports of
 * `serve` or `watch` (start-up time is measured in bench/, section 10).
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  scan: async () => (await import('./scan.js')).scanCommand,
  clear: async () => (await import('./clear.js')).clearCommand,
  watch: async () => (await import('./watch.js')).watchCommand,
  detach: async () => (await import('./detach.js')).detachCommand,
  doctor: async () => (await import('./doctor.js')).doctorCommand,
  serve: async () => (await import('./serve.js')).serveCommand,
};

/** The usage text, gathered from every command's module. */
export async function usage(): Promise<string> {
  const [scan, clear, watch, detach, doctor, serve, targets] = await Promise.all([
    import('./scan.js'), import('./clear.js'), import('./watch.js'), import('./detach.js'), import('./doctor.js'), import('./serve.js'), import('./targets.js'),
  ]);
  return `usage: dirtytrack <command> [options]

commands:
${scan.SCAN_USAGE}
${clear.CLEAR_USAGE}
${watch.WATCH_USAGE}
${detach.DETACH_USAGE}
${doctor.DOCTOR_USAGE}
${serve.SERVE_USAGE}

${targets.TARGET_USAGE}

backends (--backend): auto (default), soft-dirty, pagemap-scan, uffd-wp
exit codes: 0 ok, 1 unexpected error (the only one with a stack trace), 2 usage, 3 no such process,
            4 permission denied, 5 capability missing (e.g. kernel without CONFIG_MEM_SOFT_DIRTY),
            6 busy: another dirtytrack tracks the process, 7 output could not be written (e.g. disk full);
            watch ended by a signal: 128 + its number (SIGHUP 129, SIGINT 130, SIGTERM 143),
            by a closed stdout: 141 (as SIGPIPE); serve stopped by SIGHUP 129, SIGINT 130, SIGTERM 143,
            8 serve could not close a target (it may stay armed: dirtytrack detach PID)
${watch.WATCH_OPTIONS_USAGE}
${serve.SERVE_OPTIONS_USAGE}`;
}

/** Run one command; the exit code it returns is documented in USAGE and README.md. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    print(await usage());
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  try {
    const load = COMMANDS[command];
    if (!load) throw usageError(`unknown command '${command}'`);
    return (await (await load())(rest)) ?? EXIT.ok;
  } catch (err) {
    const code = exitCodeFor(err);
    process.stderr.write(errorText(err, code));
    return code;
  }
}

