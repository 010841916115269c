import { readdirSync, readFileSync } from 'node:fs';

/**
 * What `dirtytrack serve` tracks, re-resolved every round: pids come and go, new processes match.
 * A new kind of target (`--tree PID`, `--cgroup PATH` from src/targets/) is one more member of
 * TargetSpec and one more entry in RESOLVERS; nothing else in the exporter changes.
 */
export type TargetSpec =
  | { kind: 'pid'; pid: number }
  | { kind: 'match'; pattern: string };

/** One process to track this round, with the labels its series carry. */
export interface Discovered {
  pid: number;
  comm: string;
}

type Resolver<K extends TargetSpec['kind']> = (spec: Extract<TargetSpec, { kind: K }>, procs: ProcTable) => number[];

const RESOLVERS: { [K in TargetSpec['kind']]: Resolver<K> } = {
  pid: (spec) => [spec.pid],
  match: (spec, procs) => {
    const re = new RegExp(spec.pattern);
    return procs.pids().filter((pid) => {
      const cmd = procs.cmdline(pid);
      return cmd !== '' && re.test(cmd);
    });
  },
};

/** A snapshot of /proc, read lazily and at most once per round. */
export class ProcTable {
  private list?: number[];
  private readonly cmdlines = new Map<number, string>();

  pids(): number[] {
    return (this.list ??= readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n)).map(Number));
  }

  /** The command line with NULs as spaces; '' for kernel threads and processes already gone. */
  cmdline(pid: number): string {
    let c = this.cmdlines.get(pid);
    if (c === undefined) {
      try {
        c = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0+$/, '').replaceAll('\0', ' ');
      } catch {
        c = '';
      }
      this.cmdlines.set(pid, c);
    }
    return c;
  }
}

/** comm of pid ('' when gone): the short name the kernel keeps, what `ps -o comm` shows. */
export function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trimEnd();
  } catch {
    return '';
  }
}

/** This process and its ancestors: a --match pattern also matches `sudo dirtytrack serve --match PATTERN`. */
export function selfAndAncestors(pid = process.pid): Set<number> {
  const out = new Set<number>();
  for (let p = pid; p > 1 && !out.has(p); ) {
    out.add(p);
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return out;
}

/** Every process the specs name now, each once, never the exporter itself or its ancestors. */
export function discover(specs: readonly TargetSpec[], exclude: ReadonlySet<number>, procs = new ProcTable()): Discovered[] {
  const seen = new Set<number>();
  const out: Discovered[] = [];
  for (const spec of specs) {
    for (const pid of (RESOLVERS[spec.kind] as Resolver<typeof spec.kind>)(spec as never, procs)) {
      if (seen.has(pid) || exclude.has(pid)) continue;
      seen.add(pid);
      out.push({ pid, comm: commOf(pid) });
    }
  }
  return out;
}

/** How a spec reads on the command line (for messages). */
export function describeSpec(spec: TargetSpec): string {
  return spec.kind === 'pid' ? `pid ${spec.pid}` : `--match ${spec.pattern}`;
}

/** Field 22 of /proc/PID/stat, the start time: tells a reused pid from the process first seen ('' when gone). */
export function startTimeOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}
