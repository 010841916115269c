import { openBackend } from '../backends/select.js';
import { parseBackend, parseCommandArgs } from './args.js';
import { parseTargets, TARGET_OPTIONS } from './targets.js';
import { openGroup } from '../targets/group.js';

export const CLEAR_USAGE = `  clear <pid>|<pid>…|--tree PID|--cgroup PATH [--backend B]
        reset tracking: afterwards only new writes are reported`;

export async function clearCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, { backend: { type: 'string' }, ...TARGET_OPTIONS });
  const targets = parseTargets(positionals, values, 'clear');
  if (targets.kind === 'group') {
    const group = openGroup(targets.source, parseBackend(values.backend), true);
    try {
      const tracked = group.tracked();
      process.stderr.write(`cleared ${tracked.length} process${tracked.length === 1 ? '' : 'es'} of ${targets.source.label} (backend ${group.backendName()})\n`);
      for (const s of group.skipped()) process.stderr.write(`  skipped ${s.pid}: ${s.reason}\n`);
    } finally {
      group.release();
    }
    return;
  }
  const pid = targets.pid;
  const backend = openBackend(pid, parseBackend(values.backend));
  try {
    backend.clear();
    process.stderr.write(`cleared ${pid} (backend ${backend.name})\n`);
  } finally {
    backend.release();
  }
}
