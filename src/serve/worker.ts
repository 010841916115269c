import { setTimeout as delay } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import type { MainMessage, ServeConfig, WorkerMessage } from './messages.js';
import { Fleet } from './tracker.js';

/**
 * The scan worker: it owns every backend, so scans (synchronous ioctls and preads that can take
 * seconds on a large target) never hold up the thread that answers /metrics. One round per interval;
 * a round that overruns starts the next one at once.
 */
const cfg = workerData as ServeConfig;
const port = parentPort!;
const fleet = new Fleet(cfg);
const stop = new AbortController();
port.on('message', (m: MainMessage) => {
  if (m.type === 'stop') stop.abort();
});

const post = (m: WorkerMessage) => port.postMessage(m);

try {
  while (!stop.signal.aborted) {
    const t0 = performance.now();
    post({ type: 'round', reports: fleet.round() });
    const wait = t0 + cfg.intervalMs - performance.now();
    if (wait > 0) await delay(wait, undefined, { signal: stop.signal }).catch(() => undefined);
    else await delay(0); // let a stop request in
  }
} finally {
  post({ type: 'closed', failures: fleet.close() });
  port.close();
}
