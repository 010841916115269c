/**
 * Expected lab failures (missing tools, download errors, guest crash, timeout).
 * The CLI prints only their message — one line, no stack trace.
 */
export class LabError extends Error {
  constructor(
    message: string,
    /** Process exit code the CLI should use. 125 = lab infrastructure failure (like `docker run`). */
    readonly exitCode = 125,
  ) {
    super(message);
    this.name = 'LabError';
  }
}

/** First line of a child process's stderr (or message), for one-line error reports. */
export function firstLine(text: string | undefined): string {
  return (text ?? '').trim().split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
}
