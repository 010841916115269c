import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { kernels, projectRoot, type KernelName } from './config.js';
import { LabError, firstLine } from './errors.js';
import { GuestChannel } from './guest-channel.js';
import { ensureHostTools } from './host-tools.js';
import { ensureInitramfs } from './initramfs.js';
import { ensureKernel, kernelCacheDir } from './kernel-fetch.js';
import { startQemu } from './qemu.js';

export interface LabOptions {
  kernel: KernelName;
  /** argv to run in /project; a single element is run as a shell script. */
  command: string[];
  /** Project-relative paths copied back from the guest after the command. */
  collect: string[];
  memory: string;
  timeoutSeconds: number;
  refreshKernel: boolean;
  /** Extra environment for the command (besides the passed-through host variables). */
  env: Record<string, string>;
}

export interface LabResult {
  /** The command's exit status. */
  exitCode: number;
  seconds: { total: number; prepare: number; boot: number; command: number };
  kernelRelease: string;
}

/** Exit codes for failures of the lab itself (the command's own status passes through). */
export const EXIT_TIMEOUT = 124;
export const EXIT_LAB_FAILURE = 125;

const CONSOLE_TAIL_LINES = 50;
/** x86 COMMAND_LINE_SIZE is 2048; leave room for the fixed part of the command line. */
const MAX_PAYLOAD_CHARS = 1800;

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

function readConsole(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').replace(/\r/g, '').replace(/\n+$/, '');
  } catch {
    return '';
  }
}

class LineTail {
  private lines: string[] = [''];
  constructor(private readonly max: number) {}
  push(chunk: Buffer): void {
    const parts = chunk.toString('utf8').replace(/\r/g, '').split('\n');
    this.lines[this.lines.length - 1] += parts[0];
    this.lines.push(...parts.slice(1));
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
  }
  text(): string {
    return this.lines.join('\n').replace(/\n+$/, '');
  }
}

const secondsSince = (t: number) => Math.round((performance.now() - t) / 100) / 10;

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
  const initramfs = await ensureInitramfs(io.log);
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

  io.log(`lab: ${spec.name} kernel ${kernel.release}, booting…`);
  const prepare = secondsSince(started);
  const bootStarted = performance.now();
  // Kept after the run for debugging; concurrent runs of the same kernel share it.
  const consoleLog = path.join(kernelCacheDir(spec), 'console.log');
  const guest = startQemu({
    kernel: kernel.vmlinuz,
    initrd: initramfs.file,
    memory: options.memory,
    cpus: 2,
    append: `dtlab=${payload}`,
    consoleLog,
  });
  const qemuErrors = new LineTail(20);
  guest.stderr.on('data', (chunk: Buffer) => qemuErrors.push(chunk));

  let boot = 0;
  let commandStarted = 0;
  let command = 0;
  let exitStatus: number | undefined;
  let done = false;
  const collected: { base64: string; tarStatus: number }[] = [];

  const channel = new GuestChannel(nonce, {
    output: io.stdout,
    up: (thp) => {
      boot = secondsSince(bootStarted);
      commandStarted = performance.now();
      io.log(`lab: guest up after ${boot.toFixed(1)} s; THP enabled: ${thp}`);
    },
    exit: (status) => {
      exitStatus = status;
      command = secondsSince(commandStarted);
    },
    missing: (p) => io.log(`lab: warning: --collect ${p}: not found in the guest`),
    collected: (base64, tarStatus) => collected.push({ base64, tarStatus }),
    done: () => {
      done = true;
    },
  });
  guest.channel.on('data', (chunk: Buffer) => channel.push(chunk));

  // Ends with QEMU: guest poweroff, crash (panic=-1 + -no-reboot), timeout or signal.
  let stopReason: { message: string; exitCode: number } | undefined;
  const stop = (message: string, exitCode: number, signal: NodeJS.Signals = 'SIGTERM') => {
    stopReason ??= { message, exitCode };
    guest.child.kill(signal);
    setTimeout(() => guest.child.kill('SIGKILL'), 3000).unref();
  };
  const timer = setTimeout(() => stop(`lab: timed out after ${options.timeoutSeconds} s`, EXIT_TIMEOUT), options.timeoutSeconds * 1000);
  const onSignal = (signal: NodeJS.Signals) => stop(`lab: interrupted by ${signal}`, signal === 'SIGINT' ? 130 : 143);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const spawnError = await new Promise<Error | undefined>((resolve) => {
      guest.child.once('error', resolve);
      // 'close' waits for the serial pipes to drain, so every marker has been parsed.
      guest.child.once('close', () => resolve(undefined));
    });
    if (spawnError) throw new LabError(`lab: cannot start qemu-system-x86_64: ${spawnError.message}`);
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  for (const { base64, tarStatus } of collected) {
    if (tarStatus !== 0) io.log(`lab: warning: tar in the guest exited ${tarStatus}; collected files may be incomplete`);
    const tar = spawnSync('tar', ['-x', '-z', '-f', '-', '-C', projectRoot], { input: Buffer.from(base64, 'base64') });
    if (tar.status !== 0) throw new LabError(`lab: extracting --collect files failed: ${firstLine(tar.stderr?.toString())}`);
    io.log(`lab: collected ${collect.join(', ')}`);
  }

  const total = secondsSince(started);
  const consoleText = readConsole(consoleLog);
  const failure =
    stopReason ??
    (exitStatus === undefined
      ? { message: `lab: guest stopped before the command finished${guestDiagnosis(consoleText, qemuErrors.text())}`, exitCode: EXIT_LAB_FAILURE }
      : !done
        ? { message: 'lab: guest stopped while sending --collect files back', exitCode: EXIT_LAB_FAILURE }
        : undefined);
  if (failure) {
    if (failure.exitCode === 130 || failure.exitCode === 143) throw new LabError(failure.message, failure.exitCode);
    const tail = consoleText.split('\n').slice(-CONSOLE_TAIL_LINES).join('\n') || '(empty: the kernel printed nothing yet)';
    io.log(`lab: --- last ${CONSOLE_TAIL_LINES} lines of ${path.relative(process.cwd(), consoleLog)} ---\n${tail}\n--- end of console ---`);
    throw new LabError(failure.exitCode === EXIT_TIMEOUT ? failure.message : `${failure.message} (after ${total.toFixed(1)} s)`, failure.exitCode);
  }
  io.log(`lab: ${spec.name} finished in ${total.toFixed(1)} s (prepare ${prepare.toFixed(1)} s, boot ${boot.toFixed(1)} s, command ${command.toFixed(1)} s), exit ${exitStatus}`);
  return { exitCode: exitStatus!, seconds: { total, prepare, boot, command }, kernelRelease: kernel.release };
}

function guestDiagnosis(console: string, qemu: string): string {
  const panic = /Kernel panic[^\n]*/.exec(console)?.[0];
  if (panic) return `: ${panic.trim()}`;
  const qemuError = firstLine(qemu);
  return qemuError ? `: ${qemuError}` : ' (no end marker)';
}
