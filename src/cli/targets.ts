/**
 * What scan, clear and watch track: one pid (output unchanged), several pids, --tree PID or
 * --cgroup PATH (a group: per-process rows and a total), narrowed by --vm and --region.
 */
import { parsePid, usageError } from './args.js';
import { cgroupSource } from '../targets/cgroup.js';
import { pidList, type MemberSource } from '../targets/member.js';
import { parseRegionOptions } from '../targets/region-filter.js';
import { treeSource } from '../targets/tree.js';
import { guestRamRegions } from '../targets/vm.js';
import type { RegionSelector } from '../types.js';

/** parseArgs options every tracking command accepts. */
export const TARGET_OPTIONS = {
  tree: { type: 'string' },
  cgroup: { type: 'string' },
  vm: { type: 'boolean' },
  region: { type: 'string', multiple: true },
} as const;

export const TARGET_USAGE = `targets (scan, clear, watch):
  <pid>            one process
  <pid> <pid> …    several processes: per-process rows and a total (shared pages counted once)
  --tree PID       PID and all its descendants, re-read every round
  --cgroup PATH    every process of a cgroup v2 group and the groups below it; PATH absolute or
                   relative to the cgroup2 mount (found in /proc/mounts)
  --vm             (one QEMU pid) only the guest-RAM mappings, from QEMU's -m and memory-backend objects
  --region SPEC    (scan, watch; repeatable) only mappings SPEC selects: heap, stack, anon, file,
                   shared, an address range 0xA-0xB, size>=64MiB, or a path glob such as '*libc*'`;

export interface TargetValues {
  tree?: string;
  cgroup?: string;
  vm?: boolean;
  region?: string[];
}

export type Targets =
  | { kind: 'single'; pid: number; select?: RegionSelector; vm?: { ramBytes: number; regions: Array<{ start: bigint; end: bigint }> } }
  | { kind: 'group'; source: MemberSource; select?: RegionSelector };

/** The target of a command from its positionals and options; usage errors (exit 2) for bad combinations. */
export function parseTargets(positionals: string[], values: TargetValues, command: string): Targets {
  const named = [positionals.length > 0 ? 'pids' : '', values.tree !== undefined ? '--tree' : '', values.cgroup !== undefined ? '--cgroup' : ''].filter(Boolean);
  if (named.length > 1) throw usageError(`${named.join(' and ')} exclude each other: name the processes one way`);
  if (values.region && command === 'clear') throw usageError('--region applies to scan and watch (clear resets the whole process)');
  const select = parseRegionOptions(values.region);
  if (values.vm) {
    if (values.tree !== undefined || values.cgroup !== undefined || positionals.length !== 1) throw usageError('--vm takes exactly one QEMU pid');
    if (select) throw usageError('--vm and --region exclude each other: --vm already selects the guest-RAM mappings');
  }
  if (values.tree !== undefined) return { kind: 'group', source: treeSource(parsePid(values.tree, '--tree pid')), select };
  if (values.cgroup !== undefined) return { kind: 'group', source: cgroupSource(values.cgroup), select };
  const pids = positionals.length === 0 ? [parsePid(undefined)] : positionals.map((p) => parsePid(p));
  if (new Set(pids).size !== pids.length) throw usageError(`pid ${pids.find((p, i) => pids.indexOf(p) !== i)} is named twice`);
  if (pids.length > 1) return { kind: 'group', source: pidList(pids), select };
  if (!values.vm) return { kind: 'single', pid: pids[0], select };
  const ram = guestRamRegions(pids[0]);
  return { kind: 'single', pid: pids[0], select: vmSelector(ram.regions), vm: { ramBytes: ram.ramBytes, regions: ram.regions } };
}

/** Select exactly the guest-RAM mappings (matched by address range: QEMU keeps them in place). */
function vmSelector(regions: Array<{ start: bigint; end: bigint }>): RegionSelector {
  const ram = new Set(regions.map((r) => `${r.start}-${r.end}`));
  return (r) => (ram.has(`${r.start}-${r.end}`) ? [{ start: r.start, end: r.end }] : []);
}

