import { formatBytes, plural } from '../format.js';
import { hex, pageToAddr } from '../kernel/info.js';
import type { ScanResult } from '../types.js';

/** Human report: a header, then per region with dirty pages its summary and dirty ranges. */
export function scanToText(r: ScanResult, opts: { verbose?: boolean; maxRanges?: number } = {}): string {
  const maxRanges = opts.maxRanges ?? (opts.verbose ? Infinity : 8);
  const lines: string[] = [];
  const withDirty = r.regions.filter((x) => x.dirtyPages > 0);
  lines.push(`pid ${r.pid} · kernel ${r.kernel} · backend ${r.backend} · ${r.pageSize}-byte pages`);
  lines.push(`${plural(r.dirtyPages, 'dirty page')} (${formatBytes(r.dirtyPages * r.pageSize)}) in ${withDirty.length} of ${plural(r.regions.length, 'region')}, scanned in ${r.scanMs.toFixed(1)} ms`);
  for (const x of opts.verbose ? r.regions : withDirty) {
    const name = x.region.path + (x.region.deleted ? ' (deleted)' : '') || '[anon]';
    lines.push(`  ${hex(x.region.start)}-${hex(x.region.end)} ${x.region.perms} ${String(x.pages).padStart(8)} pages ${String(x.dirtyPages).padStart(8)} dirty  ${name}`);
    for (const [s, e] of x.dirty.slice(0, maxRanges)) lines.push(`      ${hex(pageToAddr(s))}-${hex(pageToAddr(e))}  ${plural(e - s, 'page')}`);
    if (x.dirty.length > maxRanges) lines.push(`      … ${x.dirty.length - maxRanges} more ranges (--verbose or --json for all)`);
  }
  if (opts.verbose) for (const s of r.skipped) lines.push(`  skipped ${hex(s.region.start)}-${hex(s.region.end)} ${s.region.path}: ${s.reason}`);
  return lines.join('\n');
}
