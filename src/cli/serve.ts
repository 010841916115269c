import { isIP } from 'node:net';
import { autoBackend } from '../backends/select.js';
import { selfAndAncestors, type TargetSpec } from '../serve/targets.js';
import { findCgroup } from '../targets/cgroup.js';
import { parseBackend, parseBandwidth, parseCommandArgs, parseDuration, parsePid, usageError } from './args.js';

export const SERVE_USAGE = `  serve [options] <pid | --match REGEX | --tree PID | --cgroup PATH>…
        Prometheus exporter: dirty rates, working sets, pre-copy estimates on /metrics`;

export const SERVE_OPTIONS_USAGE = `
serve options (endpoints /metrics and /healthz, read-only):
  TARGET is a pid; --match REGEX: every process whose /proc/PID/cmdline (NULs read as spaces)
  matches; --tree PID: the process and its descendants; --cgroup PATH: the processes of a cgroup v2
  group and the groups below it (series labelled cgroup). Looked for again every round; never
  dirtytrack itself or its ancestors. Each option may be repeated.
  --listen H:P     address to serve on (default 127.0.0.1:9464; port 0 picks a free one)
  --interval D     one round (scan and reset) of every target per D (default 1s)
  --window D       sliding window of the working-set and hot-set gauges (default 1m)
  --grace D        an exited target shows dirtytrack_up 0 this long, then its series go (default 1m)
  --bandwidth B    export the pre-copy estimate at this link rate (e.g. 10Gbit/s)
  --downtime D     stop-and-copy budget for the estimate (default 300ms)
  --backend B      auto (default), soft-dirty, pagemap-scan, uffd-wp
  --freeze / --no-freeze   as for watch
  runs until SIGINT (exit 130), SIGTERM (143) or SIGHUP (129), then closes every target: nothing left armed`;

/** "127.0.0.1:9464", "[::1]:9464", "localhost:0". */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(value.trim());
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || port > 65535 || (m[1] !== undefined && isIP(host) !== 6)) {
    throw usageError(`invalid --listen '${value}': expected HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464`);
  }
  return { host, port };
}

export function parseServeArgs(args: string[]) {
  const { values, positionals } = parseCommandArgs(args, {
    listen: { type: 'string' },
    interval: { type: 'string' },
    window: { type: 'string' },
    grace: { type: 'string' },
    bandwidth: { type: 'string' },
    downtime: { type: 'string' },
    backend: { type: 'string' },
    match: { type: 'string', multiple: true },
    tree: { type: 'string', multiple: true },
    cgroup: { type: 'string', multiple: true },
    freeze: { type: 'boolean' },
    'no-freeze': { type: 'boolean' },
  });
  if (values.freeze && values['no-freeze']) throw usageError('--freeze and --no-freeze exclude each other');
  const targets: TargetSpec[] = positionals.map((p) => ({ kind: 'pid', pid: parsePid(p) }));
  for (const pattern of values.match ?? []) {
    try {
      new RegExp(pattern);
    } catch (err) {
      throw usageError(`invalid --match '${pattern}': ${(err as Error).message}`);
    }
    targets.push({ kind: 'match', pattern });
  }
  for (const pid of values.tree ?? []) targets.push({ kind: 'tree', pid: parsePid(pid, '--tree pid') });
  for (const path of values.cgroup ?? []) {
    findCgroup(path); // a missing group or no cgroup v2 fails now, with its own exit code
    targets.push({ kind: 'cgroup', path });
  }
  if (targets.length === 0) throw usageError('serve needs at least one target: a pid, --match REGEX, --tree PID or --cgroup PATH');
  const intervalMs = parseDuration(values.interval ?? '1s', '--interval');
  return {
    ...parseListen(values.listen ?? '127.0.0.1:9464'),
    targets,
    intervalMs,
    windowRounds: Math.max(1, Math.round(parseDuration(values.window ?? '1m', '--window') / intervalMs)),
    graceMs: parseDuration(values.grace ?? '1m', '--grace'),
    bandwidthBytesPerSec: values.bandwidth === undefined ? undefined : parseBandwidth(values.bandwidth),
    downtimeMs: parseDuration(values.downtime ?? '300ms', '--downtime'),
    backend: parseBackend(values.backend),
    freeze: values.freeze ? true : values['no-freeze'] ? false : undefined,
  };
}

export async function serveCommand(args: string[]): Promise<number> {
  const o = parseServeArgs(args);
  // Resolved once here: a kernel where nothing works fails now (exit 5), not once per target and round.
  const backend = o.backend === 'auto' ? autoBackend() : o.backend;
  const { serve } = await import('../serve/exporter.js'); // prom-client loads only for this command
  return serve({ ...o, backend, exclude: [...selfAndAncestors()] });
}
