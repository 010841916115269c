import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { kernels, projectRoot, type KernelName } from './config.js';
import { LabError, firstLine } from './errors.js';
import { runSession, EXIT_TIMEOUT, type SessionOutcome } from './guest-session.js';
import { ensureHostTools } from './host-tools.js';
import { ensureInitramfs } from './initramfs.js';
import { ensureKernel, kernelCacheDir } from './kernel-fetch.js';
import { criuExtras } from './criu-assets.js';

export { EXIT_TIMEOUT };
/** Exit code when the lab itself fails (the command's own status passes through). */
export const EXIT_LAB_FAILURE = 125;

export interface LabOptions {
  kernel: KernelName;
  /** argv to run in /project; a single element is run as a shell script. */
  command: string[];
  /** Project-relative paths whose new or changed files are copied back after the command. */
  collect: string[];
  memory: string;
  timeoutSeconds: number;
  refreshKernel: boolean;
  /** Extra environment for the command (besides the passed-through host variables). */
  env: Record<string, string>;
  /** CRIU at /usr/local/sbin/criu and the kernel modules it needs (lab/criu-assets.ts). */
  criu?: boolean;
}

export interface LabResult {
  /** The command's exit status. */
  exitCode: number;
  seconds: { total: number; prepare: number; boot: number; command: number };
  kernelRelease: string;
}

const CONSOLE_TAIL_LINES = 50;
/** x86 COMMAND_LINE_SIZE is 2048; leave room for the fixed part of the command line. */
const MAX_PAYLOAD_CHARS = 1800;
/**
 * Boots that crash before the command starts are retried: multi-threaded TCG rarely
 * (1 of ~70 boots here) trips over the kernel patching its own code on the other vCPU
 * (an int3 Oops at boot). Crashes while the command runs are reported, never retried.
 */
const BOOT_ATTEMPTS = 2;

/** With `quiet`, a healthy guest logs only this; anything else (OOM kills, WARN splats) is worth a look. */
const routineConsoleLine = /^\[\s*[\d.]+\] reboot: Power down$/;

export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Host variables the guest command sees too. */
function passedThroughEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (['CI', 'FORCE_COLOR', 'NO_COLOR'].includes(name) || name.startsWith('DIRTYTRACK_')) env[name] = value;
  }
  // The guest's stdout is a pipe; keep colours when the host user watches a terminal.
  if (process.stdout.isTTY && env.FORCE_COLOR === undefined && env.NO_COLOR === undefined) env.FORCE_COLOR = '1';
  return env;
}

function validateCollectPath(p: string): string {
  const normal = path.posix.normalize(p).replace(/\/+$/, '');
  if (path.posix.isAbsolute(normal) || normal === '.' || normal === '..' || normal.startsWith('../')) {
    throw new LabError(`lab: --collect ${p}: must be a path inside the project`, 2);
  }
  return normal;
}

/** The script /init sources: see the comment at `. /run/lab.sh` in lab/init.sh. */
function runScript(nonce: string, command: string[], collect: string[], env: Record<string, string>): string {
  const script = command.length === 1 ? command[0]! : command.map(shellQuote).join(' ');
  const lines = [`LAB_NONCE=${nonce}`, `LAB_COMMAND=${shellQuote(script)}`];
  for (const [name, value] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new LabError(`lab: invalid environment variable name ${name}`, 2);
    lines.push(`export ${name}=${shellQuote(value)}`);
  }
  lines.push(`set -- ${collect.map(shellQuote).join(' ')}`);
  return lines.join('\n') + '\n';
}

/** Why the guest ended early, from its console or QEMU's stderr. */
function crashReason(o: SessionOutcome): string {
  const panic = /Kernel panic[^\n]*/.exec(o.console)?.[0];
  if (panic) return `: ${panic.trim()}`;
  const qemuError = firstLine(o.qemuStderr);
  return qemuError ? `: ${qemuError}` : ' (no end marker)';
}

/** The failure to report for an outcome, or undefined if the command ran to the end. */
function failureOf(o: SessionOutcome): { message: string; exitCode: number } | undefined {
  if (o.spawnError) return { message: `lab: cannot start qemu-system-x86_64: ${o.spawnError.message}`, exitCode: EXIT_LAB_FAILURE };
  if (o.stopped) return o.stopped;
  if (o.exitStatus === undefined) return { message: `lab: guest stopped before the command finished${crashReason(o)}`, exitCode: EXIT_LAB_FAILURE };
  if (!o.done) return { message: 'lab: guest stopped while sending --collect files back', exitCode: EXIT_LAB_FAILURE };
  return undefined;
}

const secondsSince = (t: number) => Math.round((performance.now() - t) / 100) / 10;
const relative = (p: string) => path.relative(process.cwd(), p) || p;

/**
 * The guest runs what the working tree holds: rebuild dist/ (what `npx dirtytrack` runs) and the C
 * targets first, so a stale build is never what gets tested.
 */
export function buildProject(log: (line: string) => void): void {
  for (const [what, cmd, args] of [
    ['C targets', 'make', ['-s', '-C', 'workloads']],
    ['dist/ and the CLI bundle', 'npm', ['run', '-s', 'build']],
  ] as const) {
    const r = spawnSync(cmd, args, { cwd: projectRoot, stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new LabError(`lab: building ${what} failed: ${String(r.stderr ?? r.error).trim().split('\n')[0]}`, 125);
  }
  log('lab: rebuilt dist/ and the C targets');
}

/**
 * Boots `options.kernel` under QEMU with the project in an initramfs, runs the command in
 * /project and streams its output to `stdout`. Lab progress goes to `log` (stderr).
 * Throws LabError when the lab itself fails (no kernel, guest crash, timeout…).
 */
export async function runLab(
  options: LabOptions,
  io: { stdout: (chunk: Buffer) => void; log: (line: string) => void } = {
    stdout: (chunk) => void process.stdout.write(chunk),
    log: (line) => void process.stderr.write(line + '\n'),
  },
): Promise<LabResult> {
  const started = performance.now();
  const spec = kernels[options.kernel];
  const collect = options.collect.map(validateCollectPath);
  if (options.command.length === 0) throw new LabError('lab: no command given (put it after --)', 2);

  await ensureHostTools(io.log);
  const kernel = await ensureKernel(spec, { refresh: options.refreshKernel, log: io.log });
  buildProject(io.log);
  const initramfs = await ensureInitramfs(io.log, options.criu ? await criuExtras(spec, kernel, io.log) : []);
  if (initramfs.built) {
    io.log(`lab: initramfs built in ${initramfs.seconds.toFixed(1)} s (${Math.round(initramfs.bytes / 2 ** 20)} MiB)`);
  }

  const nonce = crypto.randomBytes(8).toString('hex');
  const env = {
    ...passedThroughEnv(),
    DIRTYTRACK_LAB: spec.name,
    DIRTYTRACK_LAB_KERNEL: kernel.release,
    ...options.env,
  };
  const payload = Buffer.from(runScript(nonce, options.command, collect, env)).toString('base64');
  if (payload.length > MAX_PAYLOAD_CHARS) {
    throw new LabError(`lab: command and environment too long for the kernel command line (${payload.length} > ${MAX_PAYLOAD_CHARS} base64 chars)`, 2);
  }
  const prepare = secondsSince(started);
  // The last run's console, kept for debugging.
  const consoleLog = path.join(kernelCacheDir(spec), 'console.log');

  let outcome: SessionOutcome;
  for (let attempt = 1; ; attempt++) {
    io.log(`lab: ${spec.name} kernel ${kernel.release}, booting…`);
    outcome = await runSession(
      {
        kernel: kernel.vmlinuz,
        initrd: initramfs.file,
        memory: options.memory,
        cpus: 2,
        append: `dtlab=${payload}`,
        consoleLog,
        nonce,
        timeoutSeconds: options.timeoutSeconds,
      },
      {
        output: io.stdout,
        up: (seconds, thp) => io.log(`lab: guest up after ${seconds.toFixed(1)} s; THP enabled: ${thp}`),
      },
    );
    const crashedBooting = outcome.bootSeconds === undefined && !outcome.stopped && /Kernel panic/.test(outcome.console);
    if (!crashedBooting || attempt >= BOOT_ATTEMPTS) break;
    const kept = path.join(kernelCacheDir(spec), 'console-boot-crash.log');
    fs.writeFileSync(kept, outcome.console + '\n');
    io.log(`lab: guest crashed while booting${crashReason(outcome)}; retrying (console kept in ${relative(kept)})`);
  }

  for (const p of outcome.missing) io.log(`lab: warning: --collect ${p}: not found in the guest`);
  if (outcome.collected) {
    const { base64, files, tarStatus } = outcome.collected;
    if (tarStatus !== 0) io.log(`lab: warning: tar in the guest exited ${tarStatus}; collected files may be incomplete`);
    if (files > 0) {
      const tar = spawnSync('tar', ['-x', '-z', '-f', '-', '-C', projectRoot], { input: Buffer.from(base64, 'base64') });
      if (tar.status !== 0) throw new LabError(`lab: extracting --collect files failed: ${firstLine(tar.stderr?.toString())}`);
    }
    const paths = collect.filter((p) => !outcome.missing.includes(p));
    if (paths.length) io.log(`lab: collected ${files} new or changed file(s) from ${paths.join(', ')}`);
  }

  const total = secondsSince(started);
  const failure = failureOf(outcome);
  if (failure) {
    if (failure.exitCode === 130 || failure.exitCode === 143) throw new LabError(failure.message, failure.exitCode);
    const tail = outcome.console.split('\n').slice(-CONSOLE_TAIL_LINES).join('\n') || '(empty: the kernel printed nothing yet)';
    io.log(`lab: --- last ${CONSOLE_TAIL_LINES} lines of ${relative(consoleLog)} ---\n${tail}\n--- end of console ---`);
    throw new LabError(failure.exitCode === EXIT_TIMEOUT ? failure.message : `${failure.message} (after ${total.toFixed(1)} s)`, failure.exitCode);
  }
  const notable = outcome.console.split('\n').filter((line) => line && !routineConsoleLine.test(line)).length;
  if (notable) io.log(`lab: note: the guest kernel logged ${notable} line(s), see ${relative(consoleLog)}`);
  const boot = outcome.bootSeconds ?? 0;
  const command = outcome.commandSeconds ?? 0;
  io.log(`lab: ${spec.name} finished in ${total.toFixed(1)} s (prepare ${prepare.toFixed(1)} s, boot ${boot.toFixed(1)} s, command ${command.toFixed(1)} s), exit ${outcome.exitStatus}`);
  return { exitCode: outcome.exitStatus!, seconds: { total, prepare, boot, command }, kernelRelease: kernel.release };
}
