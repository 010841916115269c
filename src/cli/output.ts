import { accessSync, closeSync, constants, openSync, statSync, writeSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { EXIT, permissionDenied, SIGNAL_EXIT, type DirtyTrackError } from '../errors.js';
import { usageError } from './args.js';

/** Why output stopped: stdout closed by its reader (EPIPE), or a write failed (ENOSPC, EIO, …). */
export interface OutputFailure {
  where: string;      // 'stdout' or the --out path
  code: string;       // errno name
  exitCode: number;   // 141 (128 + SIGPIPE) for a closed pipe, else 7
}

const failureOf = (where: string, err: unknown): OutputFailure => {
  const code = (err as NodeJS.ErrnoException)?.code ?? 'EIO';
  return { where, code, exitCode: code === 'EPIPE' ? SIGNAL_EXIT.SIGPIPE : EXIT.output };
};

let stdoutFailure: OutputFailure | undefined;
const stdoutListeners: Array<(f: OutputFailure) => void> = [];

/**
 * Turn write errors on stdout into a state instead of an uncaught 'error' event (a stack trace and the
 * target left as it was): `watch | head -1` ends like Ctrl-C. Idempotent.
 */
let guarded = false;

export function guardStdout(): void {
  if (guarded) return;
  guarded = true;
  process.stdout.on('error', (err) => {
    if (stdoutFailure) return;
    stdoutFailure = failureOf('stdout', err);
    process.exitCode = stdoutFailure.exitCode;
    for (const l of stdoutListeners) l(stdoutFailure);
  });
}

/** Called once when stdout fails (at once when it already has). */
export function onStdoutFailure(listener: (f: OutputFailure) => void): void {
  guardStdout();
  if (stdoutFailure) listener(stdoutFailure);
  else stdoutListeners.push(listener);
}

export const stdoutOpen = () => stdoutFailure === undefined;
export const stdoutFailed = () => stdoutFailure;

/** One line of a command's result to stdout (progress and errors go to stderr); dropped once stdout failed. */
export function print(s: string): void {
  guardStdout();
  if (stdoutOpen()) process.stdout.write(s + '\n');
}

/**
 * Refuse an output file before anything is watched: a directory, a missing directory or '' (exit 2), a
 * file or directory this user may not write (exit 4). Touches nothing: an existing file keeps its content.
 */
export function checkOutputPath(path: string, option: string): void {
  if (path === '') throw usageError(`invalid ${option} '': expected a file name`);
  const refused = (err: unknown): DirtyTrackError => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      return permissionDenied('EACCES', `cannot write ${option} ${path} (${code})`, 'choose a file you may write', { path, cause: err });
    }
    if (code === 'ENOENT' || code === 'ENOTDIR') return usageError(`invalid ${option} '${path}': no directory ${dirname(path)}`);
    return usageError(`invalid ${option} '${path}': ${code ?? String(err)}`);
  };
  let existing: Stats | undefined;
  try {
    existing = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw refused(err);
  }
  if (existing?.isDirectory()) throw usageError(`invalid ${option} '${path}': is a directory`);
  try {
    if (existing) closeSync(openSync(path, constants.O_WRONLY)); // writable, and not truncated
    else if (!statSync(dirname(path)).isDirectory()) throw Object.assign(new Error(), { code: 'ENOTDIR' });
    else accessSync(dirname(path), constants.W_OK);
  } catch (err) {
    throw refused(err);
  }
}

/**
 * The file of --out. Checked before the target is touched (a bad path is exit 2, an unwritable one 4);
 * an existing file is emptied only by the first write, once the target is confirmed.
 */
export class OutFile {
  private fd: number | undefined;
  failure: OutputFailure | undefined;

  constructor(readonly path: string) {
    checkOutputPath(path, '--out');
  }

  /** Append a line (the first creates or empties the file); false, with `failure` set, once a write failed. */
  write(line: string): boolean {
    if (this.failure) return false;
    try {
      this.fd ??= openSync(this.path, 'w');
      writeSync(this.fd, line + '\n');
      return true;
    } catch (err) {
      this.failure = failureOf(this.path, err);
      return false;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
