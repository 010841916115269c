import { hex, pageToAddr } from '../kernel/info.js';
import type { ScanResult } from '../types.js';

/** The JSON form of a scan: addresses as lowercase hex strings, dirty ranges half-open [start, end). */
export function scanToJson(r: ScanResult) {
  return {
    pid: r.pid,
    kernel: r.kernel,
    backend: r.backend,
    pageSize: r.pageSize,
    dirtyPages: r.dirtyPages,
    scanMs: Math.round(r.scanMs * 1000) / 1000,
    regions: r.regions.map((x) => ({
      start: hex(x.region.start),
      end: hex(x.region.end),
      perms: x.region.perms,
      path: x.region.path + (x.region.deleted ? ' (deleted)' : ''),
      pages: x.pages,
      dirtyPages: x.dirtyPages,
      dirty: x.dirty.map(([s, e]) => [hex(pageToAddr(s)), hex(pageToAddr(e))]),
    })),
    skipped: r.skipped.map((s) => ({ start: hex(s.region.start), end: hex(s.region.end), path: s.region.path, reason: s.reason })),
  };
}

export type ScanJson = ReturnType<typeof scanToJson>;
