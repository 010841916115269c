/**
 * `--region SPEC` (repeatable): which mappings a scan reads. The selection is handed to the backend
 * (ScanOptions.select), so unselected mappings are never read: reading fewer entries is the point.
 *
 * SPEC is one of
 *   heap | stack | anon | file | shared   a kind of mapping (see KINDS)
 *   0xSTART-0xEND                         an address range; mappings are clipped to it
 *   size>=64MiB (also >, <=, <, =)        the mapping's whole size; K/M/G/T and KiB… are 1024-based, KB… 1000
 *   a path glob                           matched against the whole path maps shows; * matches any
 *                                         characters (/ included), ? one; the rest is literal ([heap] too)
 * A mapping is read when any SPEC selects it (a union). A glob must contain / * ? or [, so a
 * misspelt kind is an error rather than a pattern that silently matches nothing.
 */
import { DirtyTrackError } from '../errors.js';
import { PAGE_SIZE } from '../kernel/info.js';
import { regionKind } from '../proc/maps.js';
import type { MapsRegion, RegionSelector } from '../types.js';

export const KINDS = {
  heap: 'the [heap] mapping',
  stack: 'the main thread\'s [stack]',
  anon: 'memory without a file: anonymous private or shared mappings (MAP_ANONYMOUS, [anon:…], /dev/zero (deleted))',
  file: 'mappings of a file, including memfd and SysV shared memory (shmem files)',
  shared: 'MAP_SHARED mappings of any backing (perms …s)',
} as const;
export type RegionKind = keyof typeof KINDS;

export type RegionSpec =
  | { type: 'kind'; kind: RegionKind }
  | { type: 'glob'; pattern: string; re: RegExp }
  | { type: 'range'; start: bigint; end: bigint }
  | { type: 'size'; op: SizeOp; bytes: bigint };
type SizeOp = '>=' | '<=' | '>' | '<' | '=';

const PAGE_MASK = BigInt(PAGE_SIZE - 1);
const RANGE = /^0x([0-9a-f]+)-0x([0-9a-f]+)$/i;
const SIZE = /^size\s*(>=|<=|>|<|=)\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)$/i;

function usage(spec: string, why: string): DirtyTrackError {
  return new DirtyTrackError('EUSAGE', `invalid --region '${spec}': ${why}`);
}

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) re += ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${re}$`, 's');
}

export function parseRegionSpec(spec: string): RegionSpec {
  const s = spec.trim();
  if (s in KINDS) return { type: 'kind', kind: s as RegionKind };
  const range = RANGE.exec(s);
  if (range) {
    // whole pages: a partial page is read whole anyway
    const start = BigInt('0x' + range[1]) & ~PAGE_MASK;
    const end = (BigInt('0x' + range[2]) + PAGE_MASK) & ~PAGE_MASK;
    if (end <= start) throw usage(spec, 'the range is empty (end must be above start)');
    return { type: 'range', start, end };
  }
  if (/^size\b/i.test(s)) {
    const m = SIZE.exec(s);
    if (!m) throw usage(spec, 'expected e.g. size>=64MiB');
    const [, op, num, unit, binary, b] = m;
    if (!unit && binary) throw usage(spec, 'expected e.g. size>=64MiB');
    const base = unit && !binary && b ? 1000 : 1024;
    const scale = BigInt(base) ** BigInt(' kmgt'.indexOf((unit || ' ').toLowerCase()));
    // decimals (size>=1.5GiB) in thousandths, then whole bytes
    return { type: 'size', op: op as SizeOp, bytes: (BigInt(Math.round(Number(num) * 1000)) * scale) / 1000n };
  }
  if (/[/*?[]/.test(s)) return { type: 'glob', pattern: s, re: globToRegExp(s) };
  throw usage(spec, `expected ${Object.keys(KINDS).join(', ')}, an address range 0xA-0xB, size>=N or a path glob (containing / * ? or [)`);
}

function isAnonymous(r: MapsRegion): boolean {
  const k = regionKind(r);
  return k === 'anon' || (r.path === '/dev/zero' && r.deleted) || r.path.startsWith('[anon_shmem:');
}

function kindMatches(kind: RegionKind, r: MapsRegion): boolean {
  switch (kind) {
    case 'heap': return r.path === '[heap]';
    case 'stack': return r.path.startsWith('[stack');
    case 'anon': return isAnonymous(r);
    case 'file': return regionKind(r) === 'file' && !isAnonymous(r);
    case 'shared': return r.perms[3] === 's';
  }
}

function sizeMatches(op: SizeOp, size: bigint, bytes: bigint): boolean {
  switch (op) {
    case '>=': return size >= bytes;
    case '<=': return size <= bytes;
    case '>': return size > bytes;
    case '<': return size < bytes;
    case '=': return size === bytes;
  }
}

/** Whether a spec other than a range selects the whole of `r`. */
function selectsWhole(spec: RegionSpec, r: MapsRegion): boolean {
  switch (spec.type) {
    case 'kind': return kindMatches(spec.kind, r);
    case 'glob': return spec.re.test(r.path) || (r.deleted && spec.re.test(r.path + ' (deleted)'));
    case 'size': return sizeMatches(spec.op, r.end - r.start, spec.bytes);
    case 'range': return false;
  }
}

/** The selector the backends apply: the parts of each mapping to read, sorted and disjoint ([] = none). */
export function regionSelector(specs: RegionSpec[]): RegionSelector {
  const ranges = specs.filter((s): s is Extract<RegionSpec, { type: 'range' }> => s.type === 'range').sort((a, b) => (a.start < b.start ? -1 : 1));
  const others = specs.filter((s) => s.type !== 'range');
  return (r) => {
    if (others.some((s) => selectsWhole(s, r))) return [{ start: r.start, end: r.end }];
    const parts: Array<{ start: bigint; end: bigint }> = [];
    for (const x of ranges) {
      const start = x.start > r.start ? x.start : r.start;
      const end = x.end < r.end ? x.end : r.end;
      if (end <= start) continue;
      const last = parts.at(-1);
      if (last && start <= last.end) last.end = end > last.end ? end : last.end;
      else parts.push({ start, end });
    }
    return parts;
  };
}

/** Parse every --region value; undefined when there is none (scan everything). */
export function parseRegionOptions(values: string[] | undefined): RegionSelector | undefined {
  if (!values || values.length === 0) return undefined;
  return regionSelector(values.map(parseRegionSpec));
}
