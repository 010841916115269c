import { openBackend } from '../backends/select.js';
import { scanToJson } from '../report/scan-json.js';
import { scanToText } from '../report/scan-text.js';
import { groupScanToJson, groupScanToText } from '../report/group-scan.js';
import { parseBackend, parseCommandArgs } from './args.js';
import { print } from './output.js';
import { formatBytes } from '../format.js';
import { parseTargets, TARGET_OPTIONS } from './targets.js';
import { openGroup } from '../targets/group.js';

export const SCAN_USAGE = `  scan <pid>|<pid>…|--tree PID|--cgroup PATH [--vm] [--region SPEC]… [--json] [--backend B]
       [--include-unpopulated] [--reset] [--verbose]
        report the pages the process(es) wrote since the last clear`;

export async function scanCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, {
    json: { type: 'boolean' },
    backend: { type: 'string' },
    'include-unpopulated': { type: 'boolean' },
    reset: { type: 'boolean' },
    verbose: { type: 'boolean', short: 'v' },
    ...TARGET_OPTIONS,
  });
  const targets = parseTargets(positionals, values, 'scan');
  const opts = { includeUnpopulated: values['include-unpopulated'], reset: values.reset, select: targets.select };
  if (targets.kind === 'group') {
    const group = openGroup(targets.source, parseBackend(values.backend), false);
    try {
      const result = group.scan(opts);
      print(values.json ? JSON.stringify(groupScanToJson(result, [...group.skipped(), ...result.gone.map((pid) => ({ pid, reason: 'exited during the scan' }))])) : groupScanToText(targets.source.label, result, group.members(), { verbose: values.verbose }));
    } finally {
      group.release();
    }
    return;
  }
  const backend = openBackend(targets.pid, parseBackend(values.backend));
  try {
    const result = backend.scan(opts);
    print(values.json ? JSON.stringify(scanToJson(result)) : scanToText(result, { verbose: values.verbose }));
    if (targets.vm && !values.json) print(`guest RAM ${formatBytes(targets.vm.ramBytes)}: ${result.dirtyPages} of ${targets.vm.ramBytes / result.pageSize} guest pages written (${formatBytes(result.dirtyPages * result.pageSize)})`);
  } finally {
    backend.release();
  }
}
