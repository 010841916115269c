#!/usr/bin/env node
// node-buffer: the stride-writer protocol from inside a Node process, whose runtime (V8 heap, GC,
// libuv) writes memory all the time. Only the pages of one large ArrayBuffer are reported, and the
// buffer's address is found without native code: a random marker is written at byte 0 and looked
// for, via /proc/self/mem, at the start of the address space the allocation added to
// /proc/self/maps.
//
//   node workloads/node-buffer.mjs --pages N --stride K [--offset O] [--no-populate]
//
// Phase p stores the 64-bit phase number at offset 0 of every page i with i % K == (O + p - 1) % K.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';

const MIN_BYTES = 64 * 1024 * 1024; // well above glibc's 32 MiB cap on the mmap threshold

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n'); // synchronous for pipes and files on Linux
}

function fail(message) {
  emit({ event: 'error', message });
  process.stderr.write(`node-buffer: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { pages: null, stride: null, offset: 0, populate: true };
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i].split(/=(.*)/s);
    if (name === '--no-populate' && inline === undefined) { opts.populate = false; continue; }
    const key = { '--pages': 'pages', '--stride': 'stride', '--offset': 'offset' }[name];
    if (!key) fail(`unknown argument '${argv[i]}'`);
    const v = inline ?? argv[++i];
    if (v === undefined || !/^\d+$/.test(v)) fail(`${name} needs a whole number`);
    opts[key] = Number(v);
  }
  if (!(opts.pages >= 1)) fail('--pages N (>= 1) is required');
  if (!(opts.stride >= 1)) fail('--stride K (>= 1) is required');
  return opts;
}

/** AT_PAGESZ from the auxiliary vector: Node has no sysconf. */
function pageSize() {
  const auxv = readFileSync('/proc/self/auxv');
  for (let i = 0; i + 16 <= auxv.length; i += 16) {
    if (auxv.readBigUInt64LE(i) === 6n) return Number(auxv.readBigUInt64LE(i + 8));
  }
  return 4096;
}

function anonRanges() {
  const out = [];
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+ *(.*)$/.exec(line);
    if (m) out.push({ start: BigInt('0x' + m[1]), end: BigInt('0x' + m[2]), path: m[4] });
  }
  return out;
}

/** Parts of [start, end) that no range in `known` covered. */
function uncovered(start, end, known) {
  let parts = [[start, end]];
  for (const k of known) {
    const next = [];
    for (const [s, e] of parts) {
      if (k.end <= s || k.start >= e) { next.push([s, e]); continue; }
      if (s < k.start) next.push([s, k.start]);
      if (k.end < e) next.push([k.end, e]);
    }
    parts = next;
  }
  return parts;
}

function readMem(fd, address, length) {
  const buf = Buffer.alloc(length);
  const n = readSync(fd, buf, 0, length, address);
  return buf.subarray(0, n);
}

/** Allocates the buffer and returns it with its virtual address. */
function locatedBuffer(bytes) {
  const before = anonRanges();
  const buffer = new ArrayBuffer(bytes);
  const bytesView = new Uint8Array(buffer);
  const marker = randomBytes(16);
  const tail = randomBytes(16);
  bytesView.set(marker, 0);
  bytesView.set(tail, bytes - 16);
  const after = anonRanges();
  const fd = openSync('/proc/self/mem', 'r');
  try {
    for (const r of after) {
      if (r.path !== '' || r.end - r.start < BigInt(bytes)) continue;
      for (const [s, e] of uncovered(r.start, r.end, before)) {
        if (e - s < BigInt(bytes)) continue;
        // malloc puts a 16-byte chunk header before the data; 64 KiB leaves room for others.
        const at = readMem(fd, s, 64 * 1024).indexOf(marker);
        if (at < 0) continue;
        const address = s + BigInt(at);
        // Confirm with the other end, so a stray copy of the marker cannot fool us.
        if (address + BigInt(bytes) > r.end) continue;
        if (!readMem(fd, address + BigInt(bytes - 16), 16).equals(tail)) continue;
        return { buffer, address };
      }
    }
  } finally {
    closeSync(fd);
  }
  fail('could not locate the ArrayBuffer through /proc/self/maps and /proc/self/mem');
}

const opts = parseArgs(process.argv.slice(2));
const PAGE = pageSize();
const P = BigInt(PAGE);
const bytes = Math.max(MIN_BYTES, (opts.pages + 2) * PAGE);
const { buffer, address } = locatedBuffer(bytes);
// Only whole pages inside the buffer: the partial first page also holds malloc's header.
const start = ((address + P - 1n) / P) * P;
const wholePages = Number((address + BigInt(bytes)) / P - start / P);
if (wholePages < opts.pages) fail(`only ${wholePages} whole pages in the buffer`);
const words = new BigUint64Array(buffer, Number(start - address), (opts.pages * PAGE) / 8);
const wordsPerPage = PAGE / 8;

if (opts.populate) for (let i = 0; i < opts.pages; i++) words[i * wordsPerPage] = 0n;

const regions = [{ name: 'main', start: '0x' + start.toString(16), size: opts.pages * PAGE }];
emit({ event: 'ready', pid: process.pid, pageSize: PAGE, regions });

let phase = 0;
function handle(line) {
  const cmd = line.trim().split(/\s+/)[0];
  if (cmd === 'write') {
    phase++;
    const pages = [];
    for (let i = (opts.offset + phase - 1) % opts.stride; i < opts.pages; i += opts.stride) {
      words[i * wordsPerPage] = BigInt(phase);
      pages.push(i);
    }
    emit({ event: 'wrote', phase, writes: [{ region: 'main', pages }] });
  } else if (cmd === 'regions') {
    emit({ event: 'ok', cmd: 'regions', regions });
  } else if (cmd === 'exit') {
    finish();
  } else {
    emit({ event: 'error', message: cmd ? `unknown command '${cmd}'` : 'empty command' });
  }
}

function finish() {
  emit({ event: 'exit' });
  process.exit(0);
}

const rl = createInterface({ input: process.stdin, terminal: false });
rl.on('line', handle);
rl.on('close', finish);
