// Real processes for the exporter's integration test: `dirtytrack serve` and a Prometheus server.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { FROM_SOURCE, ROOT } from '../helpers/cli.js';

/** A loopback port free right now (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Poll `probe` until it returns a value other than undefined, at most `ms`; the last error or a timeout otherwise. */
export async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await delay(250);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)));
}

/** Send `signal`, wait at most `ms` for the exit, then SIGKILL. Resolves with the exit code (null when killed). */
export async function stop(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM', ms = 20_000): Promise<number | null> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  const code = await exited(child);
  clearTimeout(timer);
  return code;
}

/** `dirtytrack serve ARGS --listen 127.0.0.1:PORT`, from source unless `cli` says how; resolves once it says where it listens. */
export async function startServe(args: string[], port = 0, cli = FROM_SOURCE): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  const child = spawn(cli[0], [...cli.slice(1), 'serve', '--listen', `127.0.0.1:${port}`, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  child.stdout!.resume();
  const listening = await until('dirtytrack serve to listen', 30_000, async () => {
    if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${err}`);
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(err);
    return m ? Number(m[1]) : undefined;
  }).catch(async (e) => { await stop(child, 'SIGKILL'); throw e; });
  return { child, port: listening, stderr: () => err };
}

export interface Prometheus {
  child: ChildProcess;
  port: number;
  dir: string;
  /** Instant query: the result vector of /api/v1/query. */
  query(q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  close(): Promise<void>;
}

/** A real Prometheus on a free loopback port, scraping `targets` every second, with a temp TSDB. */
export async function startPrometheus(targets: string[]): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'dirtytrack-prom-'));
  const port = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), [
    'global:', '  scrape_interval: 1s', '  evaluation_interval: 1s',
    'scrape_configs:', '  - job_name: dirtytrack', '    static_configs:', `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`, '',
  ].join('\n'));
  const child = spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--storage.tsdb.retention.time=1h', '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4000); });
  const spawned = new Promise<void>((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject); });
  const close = async () => { await stop(child, 'SIGTERM'); rmSync(dir, { recursive: true, force: true }); };
  try {
    await spawned.catch((e) => { throw new Error(`cannot start prometheus (${e.message}): install Debian's prometheus package (bash scripts/setup.sh does)`); });
    const base = `http://127.0.0.1:${port}`;
    await until('prometheus to be ready', 30_000, async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${err}`);
      return (await fetch(`${base}/-/ready`)).ok ? true : undefined;
    });
    const p: Prometheus = {
      child, port, dir, close,
      async query(q) {
        const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
        const body = (await r.json()) as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
        if (body.status !== 'success') throw new Error(`query ${q}: ${body.error}`);
        return body.data.result;
      },
    };
    // Prometheus hands new targets to its scrapers only every few seconds: wait for the first attempt
    // (up 0 while nothing listens yet), so that from now on every second is scraped.
    await until('the first scrape attempt', 30_000, async () => ((await p.query('up')).length >= targets.length ? true : undefined));
    return p;
  } catch (e) {
    await close();
    throw e;
  }
}
