// Section 9: `dirtytrack serve` answers /metrics while a large target is scanned (the scans run in a
// worker thread). Reference in the same run: the same scans on the event loop of the answering process.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { markdownTable } from '../../experiments/lib/report.js';
import { BigTarget } from '../lib/big-target.js';
import { GiB, MiB, pagesOfBytes, sizeLabel, type Section } from '../lib/context.js';
import { num, stats, type Stats } from '../lib/stats.js';
import { uffdWp } from '../lib/uffd.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// The client runs in a worker of its own, so that a blocked event loop here cannot delay its clock.
const CLIENT = `
const { parentPort, workerData: w } = require('node:worker_threads');
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = () => new Promise((resolve, reject) => {
  const t0 = performance.now();
  http.get(w.url, { agent }, (r) => { r.resume(); r.on('end', () => resolve(performance.now() - t0)); }).on('error', reject);
});
(async () => {
  const ms = [];
  for (let i = 0; i < w.n; i++) { ms.push(await get()); await new Promise((r) => setTimeout(r, w.gapMs)); }
  agent.destroy();
  parentPort.postMessage(ms);
})().catch((e) => parentPort.postMessage({ error: String(e) }));`;

function latencies(url: string, n: number, gapMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const w = new Worker(CLIENT, { eval: true, workerData: { url, n, gapMs } });
    w.once('message', (m) => (Array.isArray(m) ? resolve(m) : reject(new Error(m.error))));
    w.once('error', reject);
  });
}

async function startServe(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ROOT + 'src/cli/bin.ts', 'serve', '--listen', '127.0.0.1:0', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  for (let i = 0; i < 300; i++) {
    const m = /listening on (http:\S+)/.exec(err);
    if (m) return { child, url: m[1] };
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`dirtytrack serve did not start: ${err}`);
}

async function stopServe(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await exited;
  clearTimeout(t);
}

/** Mean scan time of `pid` from the exporter's own histogram, in ms. */
async function exporterScanMs(url: string, pid: number): Promise<{ meanMs: number; rounds: number }> {
  const text = await (await fetch(url)).text();
  const val = (name: string) => Number(new RegExp(`^${name}\\{pid="${pid}"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const count = val('dirtytrack_scan_duration_seconds_count');
  return { meanMs: (val('dirtytrack_scan_duration_seconds_sum') / count) * 1000, rounds: count };
}

interface Phase { name: string; ms: number[]; s: Stats; p99: number }
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.99) - 1)];
const phase = (name: string, ms: number[]): Phase => ({ name, ms, s: stats(ms), p99: p99(ms) });

export const serveLatency: Section = {
  id: 9,
  title: '/metrics latency of dirtytrack serve, idle and while a large target is scanned',
  async run(ctx) {
    const bytes = ctx.quick ? 256 * MiB : 16 * GiB;
    const every = ctx.quick ? 16 : 64;
    const n = ctx.quick ? 60 : 1500;
    const gapMs = 5;
    const phases: Phase[] = [];
    const small = await BigTarget.spawn({ regionPages: 256, populateEvery: 1 });
    const big = await BigTarget.spawn({ regionPages: pagesOfBytes(bytes), populateEvery: every });
    let scanMean = { meanMs: NaN, rounds: 0 };
    const blockingScans: number[] = [];
    try {
      ctx.log('  serve, idle (one small target, 1 s rounds)');
      let s = await startServe(['--interval', '1s', String(small.pid)]);
      try {
        await sleep(1500);
        phases.push(phase('serve, idle', await latencies(s.url, n, gapMs)));
      } finally {
        await stopServe(s.child);
      }

      ctx.log(`  serve, scanning ${sizeLabel(bytes)} back to back`);
      s = await startServe(['--interval', '1ms', String(big.pid)]);
      let writing = true;
      const writer = (async () => { while (writing) { await big.write(8); await sleep(50); } })();
      try {
        await sleep(2000); // past the first clear of the whole target
        phases.push(phase(`serve, scanning ${sizeLabel(bytes)}`, await latencies(s.url, n, gapMs)));
        scanMean = await exporterScanMs(s.url, big.pid);
      } finally {
        writing = false;
        await writer;
        await stopServe(s.child);
      }

      const uffd = await uffdWp();
      if (!('reason' in uffd)) {
        ctx.log('  reference: the same scans on the answering event loop');
        const backend = uffd.open(big.pid);
        const body = 'x'.repeat(8192);
        const server = createServer((_req, res) => res.end(body));
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        let scanning = true, lastWrite = 0;
        const loop = () => {
          if (!scanning) return;
          const t0 = performance.now();
          backend.scan({ reset: true });
          blockingScans.push(performance.now() - t0);
          if (performance.now() - lastWrite > 50) { big.child.stdin!.write('write 8\n'); lastWrite = performance.now(); }
          setImmediate(loop);
        };
        try {
          backend.clear();
          setImmediate(loop);
          phases.push(phase(`scans on the event loop (reference), ${sizeLabel(bytes)}`, await latencies(`http://127.0.0.1:${(server.address() as { port: number }).port}/`, n, gapMs)));
        } finally {
          scanning = false;
          server.close();
          backend.close();
        }
      }
    } finally {
      await small.exit();
      await big.exit();
    }

    const during = phases[1], ref = phases[2];
    const blockScan = blockingScans.length ? stats(blockingScans) : undefined;
    const markdown = [
      `\`dirtytrack serve\` (from source) tracks a bench/big-target.c process: ${sizeLabel(bytes)} mapped, one page in ${every} touched, rewritten in part every 50 ms. A client in its own worker thread sends ${n} sequential GET /metrics (keep-alive, ${gapMs} ms apart) per phase. Idle: the exporter tracks a 1 MiB process with 1 s rounds. Scanning: \`--interval 1ms\`, so the worker scans the large target back to back and every request meets a scan in progress. Reference: this process answers a response of similar size from its own event loop while it runs the same uffd-wp scan-and-reset back to back on it, as an exporter without a worker would. Milliseconds.`,
      '',
      markdownTable(['phase', 'requests', 'median (p25–p75)', 'p99', 'max'], phases.map((p) => [p.name, p.ms.length, `${num(p.s.median)} (${num(p.s.p25)}–${num(p.s.p75)})`, num(p.p99), num(p.s.max)])),
      '',
      `One scan-and-reset of the large target: ${num(scanMean.meanMs)} ms on average in the exporter (${scanMean.rounds} rounds, from its own dirtytrack_scan_duration_seconds)${blockScan ? `, median ${num(blockScan.median)} ms on the reference's event loop (${blockScan.n} scans)` : ''}.`,
      ref ? `p99 while scanning: ${num(during.p99)} ms with the worker against ${num(ref.p99)} ms with scans on the event loop (${num(ref.p99 / during.p99)}×).` : 'The uffd-wp backend does not work here: no reference.',
    ].join('\n');
    return {
      markdown,
      goals: [{
        goal: `/metrics median latency while a ${sizeLabel(bytes)} target is scanned back to back stays within 2× its idle median (scans do not block the answer)`,
        met: during.s.median <= 2 * phases[0].s.median,
        measured: `median ${num(during.s.median)} ms scanning, ${num(phases[0].s.median)} ms idle${ref ? `, ${num(ref.s.median)} ms with scans on the event loop` : ''}; p99 ${num(during.p99)} ms scanning, ${num(phases[0].p99)} ms idle`,
      }],
      data: { bytes, every, n, gapMs, phases: phases.map(({ name, s, p99: q }) => ({ name, stats: s, p99: q })), scanMean, blockingScan: blockScan, raw: phases.map((p) => p.ms) },
    };
  },
};
