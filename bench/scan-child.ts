// One tracker scan in a fresh process, reporting that process's peak RSS (VmHWM): section 7 of the bench.
//   node bench/bin/scan-child.mjs --pid P --method none|pread|uffd-wp [--reps N]
// Prints {"event":"ready"} once set up (uffd-wp: attached and cleared), waits for one line on stdin
// (the bench makes the target write meanwhile), scans `reps` times, then prints
// {"event":"done","vmHWMKiB":..,"vmRSSKiB":..,"dirtyPages":..,"ranges":..,"scanMs":[..]}.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { UffdWpBackend } from '../src/backends/uffd-wp/backend.js';
import type { Backend, ScanResult } from '../src/types.js';
import { softDirtyScanner } from './lib/ts-scan.js';

const { values } = parseArgs({ options: { pid: { type: 'string' }, method: { type: 'string' }, reps: { type: 'string' } } });
const pid = Number(values.pid);
const reps = Number(values.reps ?? 1);

function status(field: string): number {
  return Number(new RegExp(`^${field}:\\s*(\\d+) kB$`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
}

let scan: () => ScanResult | null;
let backend: Backend | undefined;
if (values.method === 'pread') {
  const s = softDirtyScanner(pid);
  scan = () => s.scan();
} else if (values.method === 'uffd-wp') {
  backend = new UffdWpBackend(pid);
  backend.clear();
  scan = () => backend!.scan();
} else {
  scan = () => null;
}
process.stdout.write(JSON.stringify({ event: 'ready' }) + '\n');
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
await lines.next();
const scanMs: number[] = [];
let last: ScanResult | null = null;
for (let i = 0; i < reps; i++) {
  const t0 = process.hrtime.bigint();
  last = scan();
  scanMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
const result = {
  event: 'done',
  vmHWMKiB: status('VmHWM'),
  vmRSSKiB: status('VmRSS'),
  dirtyPages: last?.dirtyPages ?? 0,
  ranges: last?.regions.reduce((a, r) => a + r.runs.length / 2, 0) ?? 0,
  scanMs,
};
backend?.close();
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
