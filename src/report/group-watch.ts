import type { GroupRound } from '../targets/group-source.js';
import type { Member, MembershipChange } from '../targets/member.js';

const changed = (c: MembershipChange) => c.born.length + c.gone.length + c.exec.length + c.skipped.length > 0;

/** What a group adds to each `watch --json` round: per-process rows, and membership when it changed. */
export function groupRoundJson(g: GroupRound) {
  return {
    processes: g.processes.map((p) => ({ pid: p.pid, dirtyPages: p.dirtyPages, newPages: p.newPages })),
    sharedPagesMerged: g.group.sharedPagesMerged,
    ...(changed(g.change) ? { membership: { born: g.change.born, gone: g.change.gone, exec: g.change.exec, skipped: g.change.skipped } } : {}),
  };
}

/** The end of a group's round line: how many processes, and who came and went. */
export function groupRoundNote(g: GroupRound): string {
  const parts = [`${g.processes.length} proc`];
  if (g.change.born.length) parts.push(`born ${g.change.born.join(',')}`);
  if (g.change.gone.length) parts.push(`gone ${g.change.gone.join(',')}`);
  if (g.change.exec.length) parts.push(`exec ${g.change.exec.join(',')}`);
  if (g.change.skipped.length) parts.push(`skipped ${g.change.skipped.map((s) => s.pid).join(',')}`);
  return '  ' + parts.join(' · ');
}

const memberJson = (m: Member) => ({
  pid: m.pid,
  comm: m.comm,
  state: m.state,
  sinceRound: m.since,
  ...(m.goneAt !== undefined ? { goneRound: m.goneAt } : {}),
  ...(m.execs ? { execs: m.execs } : {}),
  ...(m.state !== 'tracked' && m.reason ? { reason: m.reason } : {}),
});

/** What a group adds to the summary line: every member ever seen, and those skipped. */
export function groupSummaryJson(label: string, members: readonly Member[]) {
  return {
    group: label,
    processes: members.filter((m) => m.state !== 'skipped').map(memberJson),
    skipped: members.filter((m) => m.state === 'skipped').map((m) => ({ pid: m.pid, reason: m.reason ?? '' })),
  };
}

export function groupSummaryLines(label: string, members: readonly Member[]): string[] {
  const tracked = members.filter((m) => m.state === 'tracked').length;
  const gone = members.filter((m) => m.state === 'gone');
  const lines = [`group                  ${label}: ${tracked} tracked at the end, ${gone.length} gone, working and hot sets for the whole group (shared pages once)`];
  for (const m of gone) lines.push(`  gone    ${m.pid} (${m.comm}) in round ${m.goneAt}: ${m.reason}`);
  for (const m of members) if (m.state === 'skipped') lines.push(`  skipped ${m.pid}: ${m.reason}`);
  return lines;
}
