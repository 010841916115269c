import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = fileURLToPath(new URL('../', import.meta.url));
/** Compiled C programs of the bench (git-ignored). */
export const BIN_DIR = BENCH_DIR + 'bin/';
export const CFLAGS = ['-O2', '-Wall', '-Wextra', '-std=gnu11'];

/** Compile bench/NAME.c with gcc -O2 into bench/bin/NAME unless the binary is newer; returns its path. */
export function cbin(name: string): string {
  const src = BENCH_DIR + name + '.c';
  const out = BIN_DIR + name;
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
    mkdirSync(BIN_DIR, { recursive: true });
    execFileSync('gcc', [...CFLAGS, '-o', out, src], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  return out;
}

export function gccVersion(): string {
  try {
    return execFileSync('gcc', ['-dumpfullversion'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Run a compiled bench program to completion and parse the one JSON line it prints last. */
export function runJson<T = Record<string, any>>(path: string, args: string[], timeoutMs = 600_000): T {
  const out = execFileSync(path, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = out.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}
