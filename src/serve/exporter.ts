import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Worker } from 'node:worker_threads';
import { DirtyTrackError, EXIT, SIGNAL_EXIT } from '../errors.js';
import type { MainMessage, ServeConfig, WorkerMessage } from './messages.js';
import { ServeMetrics } from './metrics.js';

/** How long a shutdown waits for the worker to finish its round and close every backend. */
export const CLOSE_TIMEOUT_MS = 60_000;

export interface ServeOptions extends ServeConfig {
  host: string;
  port: number;
  /** How long an exited target's `dirtytrack_up 0` stays before its series are removed. */
  graceMs: number;
  log?: (line: string) => void;
}

/**
 * The scan worker, next to this module. '../serve/' because this module also runs from the CLI's bundle
 * (dist/cli/dirtytrack.cjs, scripts/bundle-cli.mjs), where import.meta.url is dist/cli/'s; the worker
 * itself is not bundled. Run from source (tsx), a worker does not inherit tsx's loader: a small
 * bootstrap registers it first.
 */
function startWorker(workerData: ServeConfig): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('../serve/worker.js', import.meta.url), { workerData, trackUnmanagedFds: false });
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); })`;
  return new Worker(boot, { eval: true, workerData, trackUnmanagedFds: false });
}

function listenError(err: NodeJS.ErrnoException, where: string): DirtyTrackError {
  const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EADDRNOTAVAIL' ? 'no such local address' : err.code === 'EACCES' ? 'permission denied' : err.message;
  return new DirtyTrackError('EUSAGE', `cannot listen on ${where}: ${why}`, { cause: err });
}

/**
 * Serve /metrics and /healthz until SIGINT or SIGTERM, then close every backend (the worker does) and
 * resolve with the exit status. Every endpoint is read-only: nothing over HTTP chooses what is tracked.
 */
export async function serve(o: ServeOptions): Promise<number> {
  const log = o.log ?? ((line: string) => process.stderr.write(`dirtytrack serve: ${line}\n`));
  const metrics = new ServeMetrics(o.graceMs);
  let stopping = false;

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('read-only: GET /metrics or /healthz\n');
    } else if (path === '/metrics') {
      try {
        const body = await metrics.text();
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(req.method === 'HEAD' ? undefined : body);
      } catch (err) {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${(err as Error).message}\n`);
      }
    } else if (path === '/healthz') {
      res.writeHead(stopping ? 503 : 200, { 'Content-Type': 'text/plain' }).end(stopping ? 'stopping\n' : 'ok\n');
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: GET /metrics or /healthz\n');
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  const where = `${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(listenError(err, where)));
    server.listen(o.port, o.host, resolve);
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;

  const { host: _h, port: _p, graceMs: _g, log: _l, ...config } = o;
  const worker = startWorker(config);
  log(`listening on http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}/metrics (pid ${process.pid})`);

  return new Promise<number>((resolve) => {
    let exitCode: number = 1;
    let closeTimer: NodeJS.Timeout | undefined;
    const finish = (code: number) => {
      clearTimeout(closeTimer);
      for (const sig of signals) process.off(sig, onSignal);
      server.closeAllConnections();
      server.close(() => resolve(code));
    };
    const shutdown = (code: number, why: string) => {
      if (stopping) return;
      stopping = true;
      exitCode = code;
      log(`${why}: closing every target`);
      worker.postMessage({ type: 'stop' } satisfies MainMessage);
      closeTimer = setTimeout(() => {
        log(`the scan worker did not close its targets within ${CLOSE_TIMEOUT_MS / 1000} s; some may stay armed (dirtytrack detach PID)`);
        void worker.terminate();
        finish(EXIT.armed);
      }, CLOSE_TIMEOUT_MS);
    };
    // A closed terminal (SIGHUP) must not leave targets armed either.
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    function onSignal(sig: NodeJS.Signals) {
      shutdown(SIGNAL_EXIT[sig as (typeof signals)[number]], sig);
    }
    for (const sig of signals) process.on(sig, onSignal);

    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'round') {
        metrics.apply(m.reports);
        for (const r of m.reports) if (r.kind === 'error') log(`cannot track ${r.labels.pid}${r.labels.comm ? ` (${r.labels.comm})` : ''}: ${r.message}`);
      } else {
        for (const f of m.failures) log(`could not close ${f}`);
        if (m.failures.length) exitCode = EXIT.armed;
      }
    });
    worker.on('error', (err) => {
      log(`unexpected error: the scan worker failed\n${err.stack ?? err.message}`);
      exitCode = EXIT.failure;
    });
    worker.on('exit', () => {
      if (!stopping) {
        stopping = true;
        exitCode = EXIT.failure;
        log(`unexpected error\n${new Error('the scan worker stopped unexpectedly').stack}`);
      }
      finish(exitCode);
    });
  });
}
