// node-service: a Node program doing what services do — allocate per request, keep a bounded cache,
// let the garbage collector run — so the tracker can show how a runtime dirties memory on its own.
// No page-level truth exists for runtime writes; the target reports request counts and V8 heap
// statistics instead. Protocol: workloads/README.md (start / stop / status / exit).
//   node workloads/node-service.mjs [--rate REQUESTS_PER_SEC] [--cache ENTRIES] [--payload BYTES]
import { createInterface } from 'node:readline';
import v8 from 'node:v8';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const rate = arg('--rate', 2000);
const cacheSize = arg('--cache', 5000);
const payload = arg('--payload', 512);

const reply = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const cache = new Map();
let requests = 0;
let timer = null;

// One request: parse a body, build a response object graph, serialise it, remember it in an LRU.
function handle(i) {
  const body = JSON.parse(JSON.stringify({ id: i, user: `user-${i % 997}`, items: Array.from({ length: 8 }, (_, k) => ({ k, v: 'x'.repeat(payload / 8) })) }));
  const response = { ok: true, id: body.id, total: body.items.reduce((a, it) => a + it.v.length, 0), at: Date.now() };
  const key = body.user;
  cache.delete(key);
  cache.set(key, JSON.stringify(response));
  if (cache.size > cacheSize) cache.delete(cache.keys().next().value);
  requests++;
}

// Requests arrive in 10 ms ticks, as many as the rate asks for.
function start() {
  let due = 0;
  let last = performance.now();
  timer = setInterval(() => {
    const now = performance.now();
    due += ((now - last) / 1000) * rate;
    last = now;
    for (; due >= 1; due--) handle(requests);
  }, 10);
}

function heap() {
  const h = v8.getHeapStatistics();
  return { usedHeapBytes: h.used_heap_size, totalHeapBytes: h.total_heap_size, externalBytes: h.external_memory };
}

reply({ event: 'ready', pid: process.pid, pageSize: 4096, regions: [] });
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'start') { if (!timer) start(); reply({ event: 'ok', cmd, rate }); }
  else if (cmd === 'stop') { clearInterval(timer); timer = null; reply({ event: 'stopped', requests, ...heap() }); }
  else if (cmd === 'status') reply({ event: 'ok', cmd, running: timer !== null, requests, ...heap() });
  else if (cmd === 'regions') reply({ event: 'ok', cmd, regions: [] });
  else if (cmd === 'exit') { reply({ event: 'exit' }); process.exit(0); }
  else reply({ event: 'error', message: `unknown command '${cmd}'` });
});
rl.on('close', () => { reply({ event: 'exit' }); process.exit(0); });
