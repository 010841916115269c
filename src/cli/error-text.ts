import { DirtyTrackError, EXIT, exitCodeFor } from '../errors.js';

/** One line for every documented failure; the stack only for exit 1, the unexpected ones (README). */
export function errorText(err: unknown, code = exitCodeFor(err)): string {
  if (code === EXIT.failure) return `dirtytrack: unexpected error\n${(err as Error)?.stack ?? String(err)}\n`;
  const hint = err instanceof DirtyTrackError && err.code === 'EUSAGE' ? `run 'dirtytrack --help' for usage\n` : '';
  return `dirtytrack: ${(err as Error).message}\n${hint}`;
}
