import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { treePids } from '../../src/targets/tree.js';

/** What `criu … --display-stats` printed for one pre-dump or dump. */
export interface CriuStats {
  kind: 'pre-dump' | 'dump';
  ok: boolean;
  scanned: number;
  skipped: number;
  written: number;
  frozenUs: number;
  seconds: number;
  /** On failure: the error lines of CRIU's output and log. */
  error?: string;
}

/** Where the lab puts CRIU (lab/criu-assets.ts, `--criu`). */
export const CRIU = '/usr/local/sbin/criu';

/** `criu check`: null when it passes, else its error lines. */
export function criuProblem(): string | null {
  const r = spawnSync(CRIU, ['check'], { encoding: 'utf8' });
  if (r.error) return `${CRIU}: ${r.error.message} (run in the lab with --criu: npm run experiment -- criu-precopy --kernel deb13)`;
  return r.status === 0 ? null : `criu check exited ${r.status}: ${(r.stdout + r.stderr).trim().split('\n').slice(-5).join(' | ')}`;
}

/**
 * `--external unix[INO]` for every socket the tree holds: the driver talks to the root over Node's stdio,
 * which are socketpairs, and CRIU refuses to dump half of a stream connection unless told it is external.
 */
function externalSockets(root: number): string[] {
  const inodes = new Set<string>();
  for (const pid of treePids(root)) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  }
  return [...inodes].flatMap((ino) => ['--external', `unix[${ino}]`]);
}

const num = (text: string, label: RegExp) => Number(label.exec(text)?.[1] ?? NaN);

/**
 * One `criu pre-dump` (or the final `dump`, which leaves the tree running) of the tree at `pid` into
 * `dir/<n>`, with --track-mem: the soft-dirty bits decide what is written; `prev` is the parent images dir.
 */
export function criuDump(kind: 'pre-dump' | 'dump', pid: number, dir: string, n: number, prev?: number): CriuStats {
  const images = `${dir}/${n}`;
  mkdirSync(images, { recursive: true });
  const args = [kind, '-t', String(pid), '-D', images, '--track-mem', '--shell-job', '--display-stats', '-o', 'criu.log', '-v2'];
  if (prev !== undefined) args.push('--prev-images-dir', `../${prev}`);
  if (kind === 'dump') args.push('--leave-running', ...externalSockets(pid));
  const started = performance.now();
  const r = spawnSync(CRIU, args, { encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  let log = '';
  try {
    log = readFileSync(`${images}/criu.log`, 'utf8');
  } catch {
    // no log written
  }
  const out = `${r.stdout}\n${r.stderr}\n${log}`;
  const stats = {
    kind,
    scanned: num(out, /pages scanned: (\d+)/i),
    skipped: num(out, /pages skipped from parent: (\d+)/i),
    written: num(out, /pages written: (\d+)/i),
    frozenUs: num(out, /Frozen time: (\d+)/),
    seconds,
  };
  if (r.status === 0 && Number.isFinite(stats.written)) return { ok: true, ...stats };
  const errors = out.split('\n').filter((l) => /Error|error/.test(l)).slice(0, 6).join(' | ');
  return { ok: false, ...stats, error: `criu ${kind} exited ${r.status ?? r.signal}: ${errors || out.trim().split('\n').slice(-3).join(' | ')}` };
}

/**
 * The pre-copy driver's iteration rule (the shape of P.Haul's): after each pre-dump, go on while it
 * wrote at least `minPages` and at most `shrink` of the previous one; at most `maxPreDumps`.
 * Returns whether to do another pre-dump after the counts so far.
 */
export interface IterationRule {
  minPages: number;
  shrink: number;
  maxPreDumps: number;
}

export function anotherPreDump(rule: IterationRule, written: number[]): boolean {
  const last = written.at(-1)!;
  const previous = written.at(-2);
  if (written.length >= rule.maxPreDumps || last < rule.minPages) return false;
  return previous === undefined || last <= previous * rule.shrink;
}
