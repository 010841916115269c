import { openBackend } from '../backends/select.js';
import { scanToJson } from '../report/scan-json.js';
import { scanToText } from '../report/scan-text.js';
import { parseBackend, parseCommandArgs, parsePid, usageError } from './args.js';
import { print } from './output.js';

export const SCAN_USAGE = `  scan <pid> [--json] [--backend B] [--include-unpopulated] [--reset] [--verbose]
        report the pages <pid> wrote since the last clear`;

export async function scanCommand(args: string[]): Promise<void> {
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
