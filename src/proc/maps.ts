import { readFileSync } from 'node:fs';
import { DirtyTrackError, fromSystemError } from '../errors.js';
import type { MapsRegion } from '../types.js';

// start-end perms offset dev inode [path]; the path may contain spaces and is everything after the
// whitespace that follows the inode.
const LINE = /^([0-9a-f]+)-([0-9a-f]+) ([-r][-w][-x][-psS]) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)(?: +(.*))?$/;
const DELETED = ' (deleted)';

export function parseMapsLine(line: string): MapsRegion {
  const m = LINE.exec(line);
  if (!m) throw new DirtyTrackError('EIO', `unparsable maps line: ${JSON.stringify(line)}`);
  let path = m[7] ?? '';
  const deleted = path.endsWith(DELETED);
  if (deleted) path = path.slice(0, -DELETED.length);
  return {
    start: BigInt('0x' + m[1]),
    end: BigInt('0x' + m[2]),
    perms: m[3],
    offset: BigInt('0x' + m[4]),
    dev: m[5],
    inode: Number(m[6]),
    path,
    deleted,
  };
}

export function parseMaps(text: string): MapsRegion[] {
  const out: MapsRegion[] = [];
  for (const line of text.split('\n')) if (line !== '') out.push(parseMapsLine(line));
  return out;
}

export function readMaps(pid: number | 'self'): MapsRegion[] {
  const path = `/proc/${pid}/maps`;
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
