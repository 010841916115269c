import { formatBytes, plural } from '../format.js';
import { scanToJson } from './scan-json.js';
import { scanToText } from './scan-text.js';
import type { GroupScan } from '../targets/group.js';
import type { Member, Skipped } from '../targets/member.js';

/**
 * `scan --json` of a group (README "Groups"): one single-pid object per process, the total with
 * shared pages counted once, how many were merged, and the members that could not be tracked.
 */
export function groupScanToJson(g: GroupScan, skipped: Skipped[]) {
  return {
    processes: g.scans.map(scanToJson),
    dirtyPages: g.dirtyPages,
    sharedPagesMerged: g.sharedPagesMerged,
    skipped: skipped.map((s) => ({ pid: s.pid, reason: s.reason })),
  };
}

/** Human report: one row per process, the total, then skipped and gone members; --verbose adds each process's regions. */
export function groupScanToText(label: string, g: GroupScan, members: readonly Member[], opts: { verbose?: boolean } = {}): string {
  const pageSize = g.scans[0]?.pageSize ?? 4096;
  const comm = new Map(members.map((m) => [m.pid, m.comm]));
  const lines = [`${label} · ${`${g.scans.length} process${g.scans.length === 1 ? '' : 'es'}`}${g.scans[0] ? ` · backend ${g.scans[0].backend}` : ''}`];
  for (const s of g.scans) {
    lines.push(`  pid ${String(s.pid).padStart(7)}  ${(comm.get(s.pid) ?? '').padEnd(16)} ${String(s.dirtyPages).padStart(9)} dirty pages ${formatBytes(s.dirtyPages * pageSize).padStart(10)}`);
  }
  const merged = g.sharedPagesMerged > 0 ? `; ${plural(g.sharedPagesMerged, 'shared page')} written by several processes counted once` : '';
  lines.push(`total ${plural(g.dirtyPages, 'dirty page')} (${formatBytes(g.dirtyPages * pageSize)})${merged}`);
  for (const m of members) {
    if (m.state === 'skipped') lines.push(`  skipped ${m.pid}: ${m.reason}`);
    else if (m.state === 'gone') lines.push(`  gone    ${m.pid} (${m.comm}): ${m.reason}`);
  }
  if (opts.verbose) for (const s of g.scans) lines.push('', scanToText(s, { verbose: true }));
  return lines.join('\n');
}
