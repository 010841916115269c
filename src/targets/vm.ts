/**
 * `--vm`: the guest-RAM mappings of a QEMU process, so that a VM is tracked (and its pre-copy
 * estimated) the way a hypervisor migrates it: guest RAM only, not QEMU's own heap, the TCG code
 * buffer or device state.
 *
 * The rule. The RAM blocks come from QEMU's command line:
 *  - every `-object memory-backend-{ram,memfd,file},id=…,size=…` (key=value or JSON syntax), whether
 *    it backs the machine (`-machine memory-backend=`), a NUMA node (`-numa node,memdev=`) or a DIMM;
 *  - plus the machine's own RAM of `-m` bytes (default 128 MiB) unless a backend provides it.
 * Each block is then matched to exactly one mapping in /proc/PID/maps, writable and not executable
 * (the TCG code buffer is rwx), whose size is the block's rounded up to 4 KiB or 2 MiB:
 *  - ram (and the machine's own RAM): anonymous, private (or shared with `share=on`: /dev/zero);
 *  - memfd: a /memfd: mapping (QEMU names them memory-backend-memfd);
 *  - file: the `mem-path` file, or a file in the `mem-path` directory (`-mem-path` likewise).
 * Two blocks of one kind and size take the matching mappings in address order (both are RAM). When a
 * block has no candidate, or there are more candidates than blocks, it refuses: the rule cannot tell.
 * Firmware ROMs and video RAM (small blocks QEMU also migrates) are left out.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { DirtyTrackError, noSuchProcess } from '../errors.js';
import { readMaps } from '../proc/maps.js';
import { countZeroPages } from '../proc/zero-pages.js';
import type { MapsRegion } from '../types.js';
import { QEMU_DEFAULTS, type PrecopyInput } from '../watch/precopy.js';

export type RamKind = 'ram' | 'memfd' | 'file';

export interface RamBlock {
  /** Backend id, or `pc.ram` for the machine's own RAM from -m. */
  id: string;
  kind: RamKind;
  bytes: number;
  shared: boolean;
  memPath?: string;
}

export interface GuestRam {
  /** The guest-RAM mappings, in address order. */
  regions: MapsRegion[];
  /** Guest RAM as QEMU's command line sizes it (the sum of the blocks). */
  ramBytes: number;
  blocks: Array<RamBlock & { region: MapsRegion }>;
}

const MiB = 2 ** 20;
const UNITS: Record<string, number> = { b: 1, k: 2 ** 10, m: MiB, g: 2 ** 30, t: 2 ** 40 };

/** QEMU's size syntax: a number with an optional B/K/M/G/T suffix; `defaultUnit` when none. */
export function parseQemuSize(text: string, defaultUnit: number): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([bkmgt])?(?:i?b)?$/i.exec(text.trim());
  if (!m) return undefined;
  const bytes = Number(m[1]) * (m[2] ? UNITS[m[2].toLowerCase()]! : defaultUnit);
  return Number.isFinite(bytes) && bytes > 0 ? Math.round(bytes) : undefined;
}

/** `a=1,b=2` (QEMU's keyval; the first bare word is the implied key) or a JSON object. */
function parseOptions(text: string, impliedKey: string): Record<string, string> {
  if (text.trimStart().startsWith('{')) {
    try {
      return Object.fromEntries(Object.entries(JSON.parse(text) as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    } catch {
      return {};
    }
  }
  const out: Record<string, string> = {};
  // ",," is a literal comma in QEMU's option syntax.
  text.replace(/,,/g, '\0').split(',').forEach((raw, i) => {
    const part = raw.replace(/\0/g, ',');
    const eq = part.indexOf('=');
    if (eq >= 0) out[part.slice(0, eq)] = part.slice(eq + 1);
    else if (i === 0) out[impliedKey] = part;
    else if (part !== '') out[part] = 'on';
  });
  return out;
}

const BACKEND = /^memory-backend-(ram|memfd|file)$/;

/** The RAM blocks a QEMU command line asks for. Throws EUSAGE when a size cannot be read. */
export function ramBlocksFromCmdline(argv: string[]): RamBlock[] {
  const blocks: RamBlock[] = [];
  let memBytes = 128 * MiB; // QEMU's default -m
  let machineBackend: string | undefined;
  let memPath: string | undefined;
  const numaBackends = new Set<string>();
  for (let i = 1; i < argv.length; i++) {
    const opt = argv[i]!.replace(/^--/, '-');
    const value = argv[i + 1];
    if (!/^-(m|object|machine|M|numa|mem-path)$/.test(opt) || value === undefined) continue;
    i++;
    if (opt === '-m') {
      const o = parseOptions(value, 'size');
      const size = o.size !== undefined ? parseQemuSize(o.size, MiB) : undefined;
      if (size === undefined) throw new DirtyTrackError('EUSAGE', `--vm: cannot read QEMU's -m ${value}`);
      memBytes = size;
    } else if (opt === '-object') {
      const o = parseOptions(value, 'qom-type');
      const kind = BACKEND.exec(o['qom-type'] ?? '')?.[1] as RamKind | undefined;
      if (!kind) continue;
      const bytes = o.size !== undefined ? parseQemuSize(o.size, 1) : undefined;
      if (bytes === undefined) throw new DirtyTrackError('EUSAGE', `--vm: cannot read the size of QEMU's -object ${value}`);
      blocks.push({ id: o.id ?? '?', kind, bytes, shared: kind !== 'ram' || o.share === 'on' || o.share === 'true', memPath: o['mem-path'] });
    } else if (opt === '-machine' || opt === '-M') {
      const o = parseOptions(value, 'type');
      if (o['memory-backend']) machineBackend = o['memory-backend'];
    } else if (opt === '-numa') {
      const o = parseOptions(value, 'type');
      if (o.memdev) numaBackends.add(o.memdev);
    } else {
      memPath = value;
    }
  }
  const provided = (machineBackend !== undefined && blocks.some((b) => b.id === machineBackend)) || numaBackends.size > 0;
  if (!provided) {
    blocks.unshift(memPath !== undefined
      ? { id: 'pc.ram', kind: 'file', bytes: memBytes, shared: false, memPath }
      : { id: 'pc.ram', kind: 'ram', bytes: memBytes, shared: false });
  }
  return blocks;
}

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;
const sizeOf = (r: MapsRegion) => Number(r.end - r.start);

function fits(block: RamBlock, r: MapsRegion): boolean {
  if (r.perms[1] !== 'w' || r.perms[2] === 'x') return false;
  const size = sizeOf(r);
  if (size !== roundUp(block.bytes, 4096) && size !== roundUp(block.bytes, 2 * MiB)) return false;
  const shared = r.perms[3] === 's';
  switch (block.kind) {
    case 'ram':
      return block.shared ? shared && r.path === '/dev/zero' : !shared && r.path === '';
    case 'memfd':
      return r.path.startsWith('/memfd:');
    case 'file':
      return block.memPath !== undefined && (r.path === block.memPath || r.path.startsWith(block.memPath.replace(/\/+$/, '') + '/'));
  }
}

/** Is this QEMU? From the executable's name, or argv[0] when the link cannot be read. */
export function isQemu(exe: string, argv: string[]): boolean {
  const name = (p: string) => p.replace(/ \(deleted\)$/, '').split('/').pop() ?? '';
  return [exe, argv[0] ?? ''].some((p) => /^qemu-(system-\w+|kvm)$/.test(name(p)));
}

/** The pure rule: guest-RAM mappings from a command line and maps. Throws EUSAGE with the reason. */
export function selectGuestRam(argv: string[], maps: MapsRegion[], exe: string, pid?: number): GuestRam {
  const who = pid === undefined ? 'the process' : `process ${pid}`;
  if (!isQemu(exe, argv)) {
    throw new DirtyTrackError('EUSAGE', `--vm: ${who} is not QEMU (executable ${exe || argv[0] || 'unknown'}); --vm selects a QEMU guest's RAM`, { pid });
  }
  const blocks = ramBlocksFromCmdline(argv);
  const taken = new Set<MapsRegion>();
  const out: GuestRam['blocks'] = [];
  // Blocks of the same kind and size share their candidates, in address order.
  const groups = new Map<string, RamBlock[]>();
  for (const b of blocks) {
    const key = `${b.kind}:${b.shared}:${b.bytes}:${b.memPath ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), b]);
  }
  for (const group of groups.values()) {
    const b0 = group[0]!;
    const candidates = maps.filter((r) => !taken.has(r) && fits(b0, r));
    const what = `${group.map((b) => b.id).join(', ')} (${b0.kind}, ${b0.bytes / MiB} MiB${b0.memPath ? `, ${b0.memPath}` : ''})`;
    if (candidates.length < group.length) {
      throw new DirtyTrackError('EUSAGE', `--vm: cannot tell ${who}'s guest RAM: no mapping matches RAM block ${what}`, { pid });
    }
    if (candidates.length > group.length) {
      const list = candidates.map((r) => `0x${r.start.toString(16)}-0x${r.end.toString(16)}`).join(', ');
      throw new DirtyTrackError('EUSAGE', `--vm: cannot tell ${who}'s guest RAM: ${candidates.length} mappings (${list}) could be RAM block ${what}`, { pid });
    }
    group.forEach((b, i) => {
      taken.add(candidates[i]!);
      out.push({ ...b, region: candidates[i]! });
    });
  }
  const regions = [...taken].sort((a, b) => (a.start < b.start ? -1 : 1));
  return { regions, ramBytes: blocks.reduce((s, b) => s + b.bytes, 0), blocks: out };
}

/** The guest-RAM mappings of QEMU process `pid`, or DirtyTrackError EUSAGE saying why not. */
export function guestRamRegions(pid: number): GuestRam {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
  } catch {
    throw noSuchProcess(pid, `no /proc/${pid}`);
  }
  let exe = '';
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
  } catch {
    // kernel thread, or no permission: argv[0] decides
  }
  return selectGuestRam(argv, readMaps(pid), exe, pid);
}

/**
 * What round 0 of migrating this guest sends, for the pre-copy estimate: guest RAM, its zero pages
 * (read from the contents now, see proc/zero-pages.ts) at QEMU's 9 bytes, the others with QEMU's
 * 8-byte header. If the RAM cannot be read any more, all of it at full cost.
 */
export function vmPrecopyInput(pid: number, ram: { ramBytes: number; regions: Array<{ start: bigint; end: bigint }> }): Pick<PrecopyInput, 'residentBytes' | 'round0' | 'pageHeaderBytes' | 'zeroPageBytes'> {
  const wire = { residentBytes: ram.ramBytes, pageHeaderBytes: QEMU_DEFAULTS.pageHeaderBytes, zeroPageBytes: QEMU_DEFAULTS.zeroPageBytes };
  try {
    const z = countZeroPages(pid, ram.regions);
    return { ...wire, round0: { normalPages: z.pages - z.zeroPages, zeroPages: z.zeroPages } };
  } catch {
    return wire;
  }
}
