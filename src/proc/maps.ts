import { readFileSync } from 'node:fs';
import { DirtyTrackError, fromSystemError } from '../errors.js';
import type { MapsRegion } from '../types.js';
import { memDir } from './process.js';

// start-end perms offset dev inode [path]; the path may contain spaces and is everything after the
// whitespace that follows the inode. Parsed by hand, not with a regular expression: a process can
// have tens of thousands of mappings, and this runs on every scan (bench/, section 6).
/** The fixed fields, checked in one pass without captures (the fields are then cut out with indexOf). */
const FIELDS = /^[0-9a-f]+-[0-9a-f]+ [-r][-w][-x][-psS] [0-9a-f]+ [0-9a-f]+:[0-9a-f]+ \d+(?: |$)/;
const DELETED = ' (deleted)';

/** A hex field as BigInt: through a double while that is exact (13 hex digits, 52 bits), which is faster. */
function hexBig(s: string): bigint {
  return s.length <= 13 ? BigInt(parseInt(s, 16)) : BigInt('0x' + s);
}

export function parseMapsLine(line: string): MapsRegion {
  if (!FIELDS.test(line)) throw new DirtyTrackError('EIO', `unparsable maps line: ${JSON.stringify(line)}`);
  const dash = line.indexOf('-');
  const sp1 = line.indexOf(' ', dash + 1);
  const sp2 = sp1 + 5; // the four permission letters
  const sp3 = line.indexOf(' ', sp2 + 1);
  const sp4 = line.indexOf(' ', sp3 + 1);
  let sp5 = line.indexOf(' ', sp4 + 1);
  if (sp5 < 0) sp5 = line.length;
  let p = sp5;
  while (line.charCodeAt(p) === 32) p++;
  let path = line.slice(p);
  const deleted = path.endsWith(DELETED);
  if (deleted) path = path.slice(0, -DELETED.length);
  return {
    start: hexBig(line.slice(0, dash)),
    end: hexBig(line.slice(dash + 1, sp1)),
    perms: line.slice(sp1 + 1, sp2),
    offset: hexBig(line.slice(sp2 + 1, sp3)),
    dev: line.slice(sp3 + 1, sp4),
    inode: Number(line.slice(sp4 + 1, sp5)),
    path,
    deleted,
  };
}

export function parseMaps(text: string): MapsRegion[] {
  const out: MapsRegion[] = [];
  for (let pos = 0; pos < text.length;) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    if (nl > pos) out.push(parseMapsLine(text.slice(pos, nl)));
    pos = nl + 1;
  }
  return out;
}

export function readMaps(pid: number | 'self'): MapsRegion[] {
  const path = `${memDir(pid)}/maps`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw fromSystemError(err, `cannot read ${path}`, typeof pid === 'number' ? pid : undefined, path);
  }
  // A zombie or kernel thread has an empty maps file: nothing to track, and it will not start.
  return parseMaps(text);
}

/** Highest user address on x86-64 with 5-level paging (57 bits). pagemap describes nothing above it. */
const USER_ADDR_LIMIT = 1n << 56n;

/** Why pagemap cannot describe this region, or null when it can. */
export function unscannableReason(r: MapsRegion): string | null {
  if (r.path === '[vsyscall]' || r.start >= USER_ADDR_LIMIT) return 'above the user address space (pagemap reads return 0 bytes)';
  return null;
}

/** Kind of mapping, for reports and for backends that treat them differently. */
export function regionKind(r: MapsRegion): 'anon' | 'file' | 'heap' | 'stack' | 'special' {
  if (r.path === '') return 'anon';
  if (r.path === '[heap]') return 'heap';
  if (r.path.startsWith('[stack')) return 'stack';
  if (r.path.startsWith('[')) return r.path.startsWith('[anon') ? 'anon' : 'special';
  return 'file';
}
