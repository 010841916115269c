// Shared by the native tests: fixture builds, spawning targets, looking inside them.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Target, WORKLOAD_BIN, WORKLOAD_DIR } from '../../experiments/lib/target.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '../..');
const FIXTURE_BIN = join(ROOT, '.cache/native-fixtures');

/** Compile test/native/fixtures/NAME.c (when newer than its binary) and return the binary's path. */
export function fixture(name: string): string {
  const src = join(HERE, 'fixtures', `${name}.c`);
  const bin = join(FIXTURE_BIN, name);
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    mkdirSync(FIXTURE_BIN, { recursive: true });
    execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-std=gnu11', '-o', bin, src], { stdio: 'inherit' });
  }
  return bin;
}

/**
 * The C workloads, built when `bin` is missing (npm ci builds them; a bare checkout may not have). Only
 * when missing: the lab guests have the binaries but no compiler.
 */
export function ensureWorkloads(bin = 'rate-writer'): void {
  if (!existsSync(join(WORKLOAD_BIN, bin))) execFileSync('make', ['-s', '-C', WORKLOAD_DIR], { stdio: 'inherit' });
}

const live: Target[] = [];

/** Spawn a workload (name in workloads/bin) or a fixture (fixture: true); cleaned up by exitAll(). */
export async function spawnTarget(name: string, args: string[] = [], opts: { fixture?: boolean } = {}): Promise<Target> {
  ensureWorkloads(opts.fixture ? undefined : name);
  const t = await Target.spawn(opts.fixture ? relative(WORKLOAD_BIN, fixture(name)) : name, args);
  live.push(t);
  return t;
}

export async function exitAll(): Promise<void> {
  for (const t of live.splice(0)) {
    try {
      process.kill(t.pid, 'SIGCONT');
    } catch {
      // gone
    }
    await t.exit();
  }
}

export { uffdDescriptors } from '../helpers/userfaultfds.js';

/** `len` bytes of `pid`'s memory at `addr` (the caller must know they are mapped). */
export function readMem(pid: number, addr: bigint, len: number): Buffer {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const buf = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const n = readSync(fd, buf, got, len - got, addr + BigInt(got));
      if (n === 0) throw new Error(`short read of /proc/${pid}/mem at 0x${addr.toString(16)}`);
      got += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** State letter of /proc/PID/stat (R, S, T, t, Z…). */
export function processState(pid: number): string {
  const stat = readFileSyncSafe(`/proc/${pid}/stat`);
  return stat ? stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) : 'gone';
}

function readFileSyncSafe(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
