import type { DoctorReport } from '../doctor.js';

const yes = (b: boolean | undefined) => (b === undefined ? 'unknown' : b ? 'yes' : 'no');

export function doctorToText(d: DoctorReport): string {
  const lines = [
    `kernel         ${d.kernel} (${d.pageSize}-byte pages, transparent huge pages: ${d.thp ?? 'absent'})`,
    `soft-dirty     ${d.softDirty.works ? 'works' : 'DOES NOT WORK'} — live probe: ${d.softDirty.reason}` +
      (d.softDirty.configSource ? `; CONFIG_MEM_SOFT_DIRTY ${d.softDirty.config ? '=y' : 'unset'} in ${d.softDirty.configSource}` : '; kernel config not readable'),
    `native addon   ${d.native.loaded ? 'loaded' : `not loaded (${d.native.reason}) — pagemap-scan and uffd-wp need it: npm run build:native`}`,
  ];
  for (const b of d.backends) lines.push(`backend        ${b.name.padEnd(13)} ${b.works ? 'yes' : 'no '}  ${b.reason}`);
  lines.push(`auto backend   ${d.auto ?? 'none: no backend works on this kernel'}`);
  lines.push(`ptrace         Yama ptrace_scope ${d.ptrace.yamaScope ?? 'absent'}; CAP_SYS_PTRACE ${yes(d.ptrace.capSysPtrace)}; CAP_SYS_ADMIN ${yes(d.ptrace.capSysAdmin)}`);
  const p = d.process;
  if (p) {
    lines.push(`process        ${p.pid} (${p.comm}), ${p.regions} scannable regions`);
    lines.push(`  maps ${yes(p.mapsReadable)}, pagemap ${yes(p.pagemapReadable)}, PFNs visible ${yes(p.pfnVisible)}, clear_refs writable ${yes(p.clearRefsWritable)}, tracer ${p.tracerPid || 'none'}`);
    if (p.seccomp) lines.push(`  seccomp: soft-dirty and pagemap-scan ${p.seccomp.meaning.softDirty}; uffd-wp ${p.seccomp.meaning.uffdWp}`);
    for (const problem of p.problems) lines.push(`  problem: ${problem}`);
  }
  return lines.join('\n');
}
