import { openBackend } from '../backends/select.js';
import { parseBackend, parseCommandArgs, parsePid, usageError } from './args.js';

export const CLEAR_USAGE = `  clear <pid> [--backend B]
        reset tracking: afterwards only new writes are reported`;

export async function clearCommand(args: string[]): Promise<void> {
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
