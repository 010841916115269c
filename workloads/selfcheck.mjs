#!/usr/bin/env node
// Checks the workloads' protocol and, independently of what they report, their truth: every write
// stores a value that identifies it (the phase or write number, 64-bit at offset 0 of the page),
// so the pages that changed in the target's memory, read through /proc/PID/mem, must be exactly
// the pages reported. /proc/PID/pagemap (present and exclusively-mapped bits) checks the kernel
// side effects of the scenario commands. Needs no soft-dirty support. Run as a user allowed to
// read the targets' /proc/PID/mem (same user, ptrace_scope <= 1 for children, or root).
//
//   make -C workloads && node workloads/selfcheck.mjs [name-filter]
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const BIN = HERE + 'bin/';
const filter = process.argv[2] ?? '';

let checks = 0;
const failures = [];
let current = '';
function ok(cond, what) {
  checks++;
  if (!cond) {
    failures.push(`${current}: ${what}`);
    console.log(`  FAIL ${what}`);
  }
  return cond;
}
function eq(actual, expected, what) {
  const show = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x));
  const a = show(actual), e = show(expected);
  return ok(a === e, `${what}: got ${a.slice(0, 300)}, expected ${e.slice(0, 300)}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ a target speaking the protocol

class Target {
  constructor(file, args) {
    const [cmd, argv] = file.endsWith('.mjs') ? [process.execPath, [HERE + file, ...args]] : [BIN + file, args];
    this.child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.lines = [];
    this.waiters = [];
    this.stderr = '';
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
    this.child.stderr.on('data', (d) => (this.stderr += d));
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        msg = { event: 'INVALID-JSON', line };
      }
      const w = this.waiters.shift();
      if (w) w(msg);
      else this.lines.push(msg);
    });
  }
  next(timeoutMs = 10000) {
    if (this.lines.length) return Promise.resolve(this.lines.shift());
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((m) => (clearTimeout(t), resolve(m)));
    });
  }
  async send(line) {
    this.child.stdin.write(line + '\n');
    return this.next();
  }
  async start() {
    const ready = await this.next();
    eq(ready.event, 'ready', 'first line is ready');
    eq(ready.pid, this.child.pid, 'ready.pid is the process id');
    eq(ready.pageSize, 4096, 'ready.pageSize');
    ok(Array.isArray(ready.regions) && ready.regions.length >= 1, 'ready.regions is a non-empty list');
    for (const r of ready.regions) {
      ok(/^0x[0-9a-f]+$/.test(r.start) && r.size % 4096 === 0 && r.size > 0, `region ${r.name} start/size well-formed`);
      ok(BigInt(r.start) % 4096n === 0n, `region ${r.name} page-aligned`);
    }
    eq(Object.keys(ready).slice(0, 4), ['event', 'pid', 'pageSize', 'regions'], 'ready key order');
    this.ready = ready;
    this.pid = ready.pid;
    return ready;
  }
  region(name = 'main', regions = this.ready.regions) {
    const r = regions.find((x) => x.name === name);
    return { name, start: BigInt(r.start), pages: r.size / 4096 };
  }
  async close({ viaEof = false } = {}) {
    const reply = viaEof ? (this.child.stdin.end(), await this.next()) : await this.send('exit');
    eq(reply, { event: 'exit' }, `exit reply${viaEof ? ' on EOF' : ''}`);
    const { code } = await this.exited;
    eq(code, 0, 'exit status');
    eq(this.lines, [], 'no output after exit');
  }
}

// ------------------------------------------------------------------ /proc readers

function readMem(pid, address, length) {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, done, length - done, address + BigInt(done));
      if (n <= 0) throw new Error(`short read of /proc/${pid}/mem at 0x${address.toString(16)}`);
      done += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}
/** The region's contents, read without faulting anything in: a non-present page of private
 * anonymous memory reads as zero, and reading it through /proc/PID/mem would map the zero page
 * (visible in pagemap), so only present pages are read. */
function snapshot(pid, r) {
  const pm = pagemap(pid, r);
  const out = Buffer.alloc(r.pages * 4096);
  for (let i = 0; i < r.pages; ) {
    if (!pm[i].present) { i++; continue; }
    let j = i;
    while (j < r.pages && pm[j].present) j++;
    readMem(pid, r.start + BigInt(i * 4096), (j - i) * 4096).copy(out, i * 4096);
    i = j;
  }
  return out;
}
const word0 = (snap, page) => snap.readBigUInt64LE(page * 4096);

function changedPages(before, after) {
  const out = [];
  for (let off = 0; off < after.length; off += 4096)
    if (before.compare(after, off, off + 4096, off, off + 4096) !== 0) out.push(off / 4096);
  return out;
}

/** Per page: present (bit 63) and exclusively mapped (bit 56). Reading pagemap faults nothing in. */
function pagemap(pid, r) {
  const fd = openSync(`/proc/${pid}/pagemap`, 'r');
  try {
    const buf = Buffer.alloc(r.pages * 8);
    readSync(fd, buf, 0, buf.length, (r.start / 4096n) * 8n);
    const out = [];
    for (let i = 0; i < r.pages; i++) {
      const e = buf.readBigUInt64LE(i * 8);
      out.push({ present: (e >> 63n) & 1n ? 1 : 0, exclusive: (e >> 56n) & 1n ? 1 : 0 });
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
const presentPages = (pm) => pm.flatMap((e, i) => (e.present ? [i] : []));

function mapsEntryFor(pid, address) {
  const text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const blocks = text.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/);
  for (const b of blocks) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+)/.exec(b);
    if (m && BigInt('0x' + m[1]) <= address && address < BigInt('0x' + m[2]))
      return { start: BigInt('0x' + m[1]), end: BigInt('0x' + m[2]), perms: m[3], smaps: b };
  }
  return null;
}
const vmflags = (e) => (/VmFlags:(.*)/.exec(e.smaps)?.[1] ?? '').trim().split(/\s+/);

function isSortedDistinct(a) {
  for (let i = 1; i < a.length; i++) if (!(a[i] > a[i - 1])) return false;
  return a.every(Number.isInteger);
}

// ------------------------------------------------------------------ lockstep phase checking

/** Sends write, checks the reply against the memory diff and, if given, the expected pages. */
async function checkPhase(t, phase, expected, { before } = {}) {
  const r = t.region();
  before ??= snapshot(t.pid, r);
  const reply = await t.send('write');
  const after = snapshot(t.pid, r);
  eq(reply.event, 'wrote', `phase ${phase} event`);
  eq(reply.phase, phase, 'phase number');
  eq(reply.writes.map((w) => w.region), ['main'], `phase ${phase} regions`);
  const pages = reply.writes[0].pages;
  ok(isSortedDistinct(pages) && pages.every((p) => p >= 0 && p < r.pages), `phase ${phase} pages sorted, distinct, in range`);
  if (expected) eq(pages, expected, `phase ${phase} pages as specified`);
  eq(changedPages(before, after), pages, `phase ${phase}: pages changed in memory == pages reported`);
  ok(pages.every((p) => word0(after, p) === BigInt(phase)), `phase ${phase}: written pages hold the phase number`);
  return { pages, after };
}

function strideExpected(n, k, o, p) {
  const out = [];
  for (let i = 0; i < n; i++) if (i % k === (o + p - 1) % k) out.push(i);
  return out;
}

// ------------------------------------------------------------------ tests

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test('stride-writer', async () => {
  const [N, K, O] = [256, 4, 1];
  const t = new Target('stride-writer', ['--pages', N, '--stride', K, '--offset', O].map(String));
  await t.start();
  const r = t.region();
  eq(r.pages, N, 'region pages');
  eq(presentPages(pagemap(t.pid, r)).length, N, 'populated: every page present at ready');
  const e = mapsEntryFor(t.pid, r.start);
  ok(e && e.perms === 'rw-p' && e.end >= r.start + BigInt(N * 4096), 'region is one rw-p private mapping');
  ok(vmflags(e).includes('nh'), 'VmFlags has nh (MADV_NOHUGEPAGE)');
  for (let p = 1; p <= 8; p++) await checkPhase(t, p, strideExpected(N, K, O, p));
  eq(await t.send('frobnicate'), { event: 'error', message: "unknown command 'frobnicate'" }, 'unknown command');
  const regions = await t.send('regions');
  eq(regions.regions, t.ready.regions, 'regions command');
  await checkPhase(t, 9, strideExpected(N, K, O, 9)); // still in step after the extra commands
  await t.close();
});

test('stride-writer --no-populate', async () => {
  const [N, K] = [64, 3];
  const t = new Target('stride-writer', ['--pages', N, '--stride', K, '--no-populate'].map(String));
  await t.start();
  const r = t.region();
  eq(presentPages(pagemap(t.pid, r)), [], 'no page present at ready');
  // Read nothing before phase 1 (a read would map the zero page): fresh anonymous memory is zero.
  const reply = await t.send('write');
  eq(presentPages(pagemap(t.pid, r)), reply.writes[0].pages, 'after phase 1, present == written');
  const after = snapshot(t.pid, r);
  eq(changedPages(Buffer.alloc(N * 4096), after), reply.writes[0].pages, 'phase 1 memory diff');
  eq(reply.writes[0].pages, strideExpected(N, K, 0, 1), 'phase 1 pages');
  for (let p = 2; p <= 4; p++) await checkPhase(t, p, strideExpected(N, K, 0, p));
  await t.close({ viaEof: true });
});

test('stride-writer --thp', async () => {
  const N = 1024;
  const t = new Target('stride-writer', ['--pages', N, '--stride', 512, '--offset', 7, '--thp'].map(String));
  await t.start();
  const r = t.region();
  eq(r.start % (2n << 20n), 0n, 'region 2 MiB-aligned');
  const e = mapsEntryFor(t.pid, r.start);
  ok(vmflags(e).includes('hg'), 'VmFlags has hg (MADV_HUGEPAGE)');
  const thp = Number(/AnonHugePages:\s+(\d+)/.exec(e.smaps)?.[1] ?? 0);
  console.log(`  (AnonHugePages in the region's VMA: ${thp} kB; THP is best-effort)`);
  for (let p = 1; p <= 3; p++) await checkPhase(t, p, strideExpected(N, 512, 7, p));
  await t.close();
});

test('random-writer', async () => {
  const run = async (seed) => {
    const t = new Target('random-writer', ['--pages', 500, '--count', 37, '--seed', seed].map(String));
    await t.start();
    eq(presentPages(pagemap(t.pid, t.region())).length, 500, 'populated at ready');
    const phases = [];
    for (let p = 1; p <= 5; p++) {
      const { pages } = await checkPhase(t, p);
      eq(pages.length, 37, `phase ${p} writes --count pages`);
      phases.push(pages);
    }
    await t.close();
    return phases;
  };
  const a = await run(42), b = await run(42), c = await run(43);
  eq(a, b, 'same seed gives the same pages');
  ok(JSON.stringify(a) !== JSON.stringify(c), 'another seed gives other pages');
  ok(new Set(a.map((x) => JSON.stringify(x))).size === 5, 'each phase draws different pages');
  const edge = new Target('random-writer', ['--pages', 8, '--count', 8, '--seed', 1].map(String));
  await edge.start();
  await checkPhase(edge, 1, [0, 1, 2, 3, 4, 5, 6, 7]); // count == pages: every page
  await edge.close();
});

test('readonly', async () => {
  const t = new Target('readonly', ['--pages', 128]);
  await t.start();
  eq(presentPages(pagemap(t.pid, t.region())).length, 128, 'populated at ready');
  for (let p = 1; p <= 3; p++) await checkPhase(t, p, []);
  await t.close();
  ok(/phase 3 sum \d+/.test(t.stderr), 'read sums go to stderr');
});

test('bad arguments', async () => {
  for (const args of [['--pages', 'x', '--stride', '1'], ['--stride', '2'], ['--pages', '4', '--stride', '2', '--bogus']]) {
    const t = new Target('stride-writer', args);
    const line = await t.next();
    eq(line.event, 'error', `stride-writer ${args.join(' ')} reports an error`);
    eq((await t.exited).code, 2, 'and exits 2');
  }
});

test('scenario', async () => {
  const t = new Target('scenario', ['--pages', 16]);
  await t.start();
  let main = t.region();
  let phase = 0;
  const pm = () => pagemap(t.pid, main);
  eq(presentPages(pm()), [], 'unpopulated at ready');

  const wrote = async (cmd, pages, region = 'main') => {
    const r = region === 'main' ? main : t.region(region, lastRegions);
    const before = snapshot(t.pid, r);
    const reply = await t.send(cmd);
    eq([reply.event, reply.phase, reply.writes], ['wrote', ++phase, [{ region, pages }]], `'${cmd}' reply`);
    const after = snapshot(t.pid, r);
    if (!cmd.startsWith('populate-write')) {
      eq(changedPages(before, after), pages, `'${cmd}' changed exactly those pages`);
      ok(pages.every((p) => word0(after, p) === BigInt(phase)), `'${cmd}' pages hold the phase number`);
    } else {
      eq(changedPages(before, after), [], `'${cmd}' leaves contents alone`);
    }
    return reply;
  };
  const okReply = async (cmd) => {
    const before = snapshot(t.pid, main);
    const reply = await t.send(cmd);
    eq(reply.event, 'ok', `'${cmd}' ok`);
    if (!/remap|mremap|dontneed|mmap/.test(cmd)) eq(changedPages(before, snapshot(t.pid, main)), [], `'${cmd}' writes nothing`);
    if (reply.regions) lastRegions = reply.regions;
    return reply;
  };
  const errReply = async (cmd) => eq((await t.send(cmd)).event, 'error', `'${cmd}' is an error`);
  let lastRegions = t.ready.regions;

  // first-touch writes: present exactly where written (nothing read yet)
  const before0 = Buffer.alloc(16 * 4096);
  let reply = await t.send('write 1,3,5');
  phase++;
  eq(reply.writes, [{ region: 'main', pages: [1, 3, 5] }], "'write 1,3,5' pages");
  eq(presentPages(pm()), [1, 3, 5], 'present == written after first writes');
  eq(changedPages(before0, snapshot(t.pid, main)), [1, 3, 5], 'first writes changed those pages');
  await wrote('write 5 3,3', [3, 5]); // spaces, commas, duplicates; sorted and distinct
  await wrote('write', []);
  await okReply('read 0,2');
  eq(presentPages(pm()), [0, 1, 2, 3, 5], 'a read maps page 0 and 2 (zero page)');
  await okReply('populate-read 6 8');
  await wrote('populate-write 8 10', [8, 9]);
  let m = pm();
  eq(presentPages(m), [0, 1, 2, 3, 5, 6, 7, 8, 9], 'populate-read/-write made pages present');
  eq([6, 7, 8, 9].map((i) => m[i].exclusive), [0, 0, 1, 1], 'POPULATE_WRITE gave private pages, POPULATE_READ the zero page');

  await okReply('mprotect 0 4 ro');
  eq(mapsEntryFor(t.pid, main.start).perms, 'r--p', 'mprotect ro shows in maps');
  await errReply('write 2');
  await okReply('read 2');
  await okReply('mprotect 4 5 none');
  await errReply('read 4');
  await okReply('mprotect 0 5 rw');
  await wrote('write 2,4', [2, 4]);

  await okReply('dontneed 0 16');
  eq(presentPages(pm()), [], 'DONTNEED dropped every page');
  eq(changedPages(Buffer.alloc(16 * 4096), snapshot(t.pid, main)), [], 'and they read as zero');

  await wrote('write 0,1', [0, 1]);
  reply = await wrote('fork-write 0', [0]);
  ok(Number.isInteger(reply.child) && existsSync(`/proc/${reply.child}`), 'fork-write child is alive');
  m = pm();
  eq([m[0].exclusive, m[1].exclusive], [1, 0], 'after fork-write: page 0 copied (exclusive), page 1 shared with the child');
  const child = reply.child;

  reply = await okReply('mmap extra 8');
  eq(reply.regions.map((r) => r.name), ['main', 'extra'], 'mmap adds a region');
  await wrote('write extra 2,7', [2, 7], 'extra');
  await errReply('write extra 8');
  await errReply('write nosuch 1');

  const saved = snapshot(t.pid, main);
  reply = await okReply('mremap 40');
  main = t.region('main', reply.regions);
  eq(main.pages, 40, 'mremap resized main');
  const grown = snapshot(t.pid, main);
  eq(grown.subarray(0, 16 * 4096).equals(saved), true, 'mremap kept the contents');
  await wrote('write 39', [39]);

  const oldStart = main.start;
  reply = await okReply('remap');
  main = t.region('main', reply.regions);
  eq([main.start, main.pages], [oldStart, 40], 'remap: same start and size');
  eq(presentPages(pm()), [], 'remap: nothing present');
  eq(changedPages(Buffer.alloc(40 * 4096), snapshot(t.pid, main)), [], 'remap: all zero');
  await okReply('remap extra');

  await errReply('populate-read 0 99');
  await errReply('dontneed 3 3');
  await errReply('mprotect 0 1 rx');
  await errReply('mmap main 4');
  await errReply('explode');
  await t.close();
  ok(!existsSync(`/proc/${child}`), 'fork-write child is gone after exit');
});

test('node-buffer', async () => {
  const [N, K, O] = [300, 5, 3];
  const t = new Target('node-buffer.mjs', ['--pages', N, '--stride', K, '--offset', O].map(String));
  await t.start();
  const r = t.region();
  eq(r.pages, N, 'region pages');
  const e = mapsEntryFor(t.pid, r.start);
  ok(e && e.perms === 'rw-p' && e.end >= r.start + BigInt(N * 4096), 'region inside one anonymous rw-p mapping');
  eq(presentPages(pagemap(t.pid, r)).length, N, 'populated at ready');
  for (let p = 1; p <= 6; p++) await checkPhase(t, p, strideExpected(N, K, O, p));
  await t.close();
});

// ------------------------------------------------------------------ rate-writer

const MAGIC = 0x6b72747974726964n;
function readCounter(pid, addr) {
  const b = readMem(pid, addr, 32);
  return { magic: b.readBigUInt64LE(0), writes: Number(b.readBigUInt64LE(8)), logAddr: b.readBigUInt64LE(16), capacity: Number(b.readBigUInt64LE(24)) };
}
function readLog(pid, c, n) {
  const b = readMem(pid, c.logAddr, n * 8);
  return Array.from({ length: n }, (_, i) => Number(b.readBigUInt64LE(i * 8)));
}
/** Memory must hold, per page, the number of the last write to it (0 if none), given log[0..n). */
function checkMemoryAgainstLog(snap, log, n, what) {
  const last = new Map();
  for (let i = 0; i < n; i++) last.set(log[i], i + 1);
  let bad = 0;
  for (let p = 0; p < snap.length / 4096; p++) if (word0(snap, p) !== BigInt(last.get(p) ?? 0)) bad++;
  return eq(bad, 0, `${what}: pages whose content disagrees with the log`);
}

async function rateRun(args, { measureMs = 1000 } = {}) {
  const t = new Target('rate-writer', args.map(String));
  const ready = await t.start();
  ok(/^0x[0-9a-f]+$/.test(ready.counter), 'ready.counter is a hex address');
  const caddr = BigInt(ready.counter);
  const c0 = readCounter(t.pid, caddr);
  eq([c0.magic, c0.writes], [MAGIC, 0], 'counter magic and zero count before start');
  eq((await t.send('start')).event, 'ok', 'start');
  await sleep(200); // let it settle
  const t1 = performance.now(), n1 = readCounter(t.pid, caddr).writes;
  await sleep(measureMs);
  const t2 = performance.now(), n2 = readCounter(t.pid, caddr).writes;
  return { t, caddr, measured: ((n2 - n1) * 1000) / (t2 - t1) };
}

test('rate-writer uniform: rate accuracy and exact log', async () => {
  for (const [rate, ms] of [[10, 3000], [1000, 1000], [100000, 1000], [1000000, 1000]]) {
    const { t, caddr, measured } = await rateRun(['--pages', 4096, '--rate', rate], { measureMs: ms });
    const err = Math.abs(measured - rate) / rate;
    console.log(`  rate ${rate}/s: measured ${measured.toFixed(1)}/s (${(err * 100).toFixed(2)}% off)`);
    // 2%, plus the +-1.5 writes that sampling the counter at two instants can add or lose
    ok(err < 0.02 + 1.5 / ((rate * ms) / 1000), `rate ${rate}/s within tolerance`);
    eq((await t.send('start')).event, 'error', 'second start is an error');
    const stopped = await t.send('stop');
    eq(stopped.event, 'stopped', 'stop reply');
    const c = readCounter(t.pid, caddr);
    eq(c.writes, stopped.writes, 'counter == stopped.writes');
    const n = Math.min(c.writes, c.capacity);
    const log = readLog(t.pid, c, n);
    checkMemoryAgainstLog(snapshot(t.pid, t.region()), log, n, `rate ${rate}`);
    const cyc = log.slice(0, Math.min(n, 4096));
    eq(new Set(cyc).size, cyc.length, 'first cycle of the permutation is distinct');
    const status = await t.send('status');
    eq([status.running, status.writes], [false, stopped.writes], 'status after stop');
    await t.close();
  }
});

test('rate-writer: freeze and align the truth', async () => {
  const { t, caddr } = await rateRun(['--pages', 2048, '--rate', 200000], { measureMs: 100 });
  const r = t.region();
  let inFlight = 0;
  for (let i = 0; i < 20; i++) {
    process.kill(t.pid, 'SIGSTOP');
    await sleep(5); // let the stop land on every thread
    const c = readCounter(t.pid, caddr);
    const snap = snapshot(t.pid, r);
    const log = readLog(t.pid, c, c.writes + 1);
    process.kill(t.pid, 'SIGCONT');
    // Pages stored = log[0..c) plus possibly write c (logged before its store, counted after).
    const last = new Map();
    for (let k = 0; k < c.writes; k++) last.set(log[k], k + 1);
    const extra = log[c.writes];
    let bad = 0;
    for (let p = 0; p < r.pages; p++) {
      const v = word0(snap, p), want = BigInt(last.get(p) ?? 0);
      if (v === want) continue;
      if (p === extra && v === BigInt(c.writes + 1)) { inFlight++; continue; }
      bad++;
    }
    eq(bad, 0, `freeze ${i} at ${c.writes} writes: memory matches log`);
    await sleep(20);
  }
  console.log(`  20 freezes, ${inFlight} caught a write stored but not yet counted`);
  await t.send('stop');
  await t.close();
});

test('rate-writer hotcold', async () => {
  const { t, caddr } = await rateRun(['--pages', 1000, '--rate', 100000, '--pattern', 'hotcold', '--hot', 100, '--hot-frac', 0.8]);
  const stopped = await t.send('stop');
  const c = readCounter(t.pid, caddr);
  const log = readLog(t.pid, c, Math.min(c.writes, c.capacity));
  const hot = log.filter((p) => p < 100).length / log.length;
  console.log(`  ${stopped.writes} writes, hot fraction ${hot.toFixed(4)}`);
  ok(Math.abs(hot - 0.8) < 0.01, 'hot fraction ~ 0.8');
  ok(log.every((p) => p >= 0 && p < 1000), 'log pages in range');
  checkMemoryAgainstLog(snapshot(t.pid, t.region()), log, log.length, 'hotcold');
  await t.close();
});

test('rate-writer phase + duration', async () => {
  const t = new Target('rate-writer', ['--pages', 4096, '--rate', 1000, '--pattern', 'phase', '--phase-at-ms', 500, '--rate2', 10000, '--duration-ms', 1000].map(String));
  const ready = await t.start();
  await t.send('start');
  await sleep(250);
  const early = readCounter(t.pid, BigInt(ready.counter)).writes;
  await sleep(1250);
  const stopped = await t.send('stop');
  console.log(`  at 250 ms: ${early} writes; after the 1000 ms duration: ${stopped.writes} (expect 250, 500 + 5000)`);
  ok(Math.abs(early - 250) <= 15, 'first rate ~ 1000/s');
  ok(Math.abs(stopped.writes - 5500) <= 5500 * 0.01, 'duration and second rate ~ 5500 writes');
  await t.close();
});

test('rate-writer grow', async () => {
  const W = 100000;
  const { t, caddr } = await rateRun(['--pages', W, '--rate', 20000, '--pattern', 'grow']);
  const stopped = await t.send('stop');
  const r = t.region();
  const pm = pagemap(t.pid, r); // before any memory read
  const c = readCounter(t.pid, caddr);
  const n = c.writes;
  const log = readLog(t.pid, c, n);
  eq(log.every((p, i) => p === i), true, 'grow writes pages 0, 1, 2, ... once each');
  eq(presentPages(pm).length, n, 'exactly the written pages are present');
  ok(pm.slice(0, n).every((e) => e.present), 'and they are the first n');
  checkMemoryAgainstLog(snapshot(t.pid, { start: r.start, pages: n + 16 }), log, n, 'grow');
  console.log(`  grow wrote ${stopped.writes} fresh pages`);
  const done = new Target('rate-writer', ['--pages', 50, '--rate', 100000, '--pattern', 'grow']);
  await done.start();
  await done.send('start');
  await sleep(300);
  eq((await done.send('stop')).writes, 50, 'grow stops after the last fresh page');
  await done.close();
});

// ------------------------------------------------------------------ main

if (!existsSync(BIN + 'scenario')) {
  console.error('workloads/bin is missing: run make -C workloads first');
  process.exit(2);
}
const started = performance.now();
for (const { name, fn } of tests) {
  if (!name.includes(filter)) continue;
  current = name;
  console.log(`# ${name}`);
  const before = checks;
  try {
    await fn();
  } catch (err) {
    ok(false, `threw ${err.stack}`);
  }
  console.log(`  ${checks - before} checks`);
}
console.log(`\n${checks} checks, ${failures.length} failed, ${((performance.now() - started) / 1000).toFixed(1)} s`);
for (const f of failures) console.log(`FAIL ${f}`);
process.exit(failures.length ? 1 : 0);
