import fs from 'node:fs';
import { GuestChannel } from './guest-channel.js';
import { startQemu, type BootOptions } from './qemu.js';

/** What one QEMU boot produced; run.ts turns it into an exit code or an error. */
export interface SessionOutcome {
  /** Seconds from QEMU start to the guest's UP marker (undefined: never got there). */
  bootSeconds?: number;
  commandSeconds?: number;
  thp?: string;
  exitStatus?: number;
  /** The guest sent DONE (everything, including --collect, arrived). */
  done: boolean;
  collected?: { base64: string; files: number; tarStatus: number };
  missing: string[];
  /** Set when we stopped QEMU ourselves (timeout, signal). */
  stopped?: { message: string; exitCode: number };
  spawnError?: Error;
  qemuStderr: string;
  /** Kernel console (ttyS0), \r removed. */
  console: string;
}

export interface SessionHooks {
  output(chunk: Buffer): void;
  up(bootSeconds: number, thp: string): void;
}

const secondsSince = (t: number) => Math.round((performance.now() - t) / 100) / 10;

export const EXIT_TIMEOUT = 124;

/**
 * Boots QEMU once and follows the guest's ttyS1 protocol until QEMU exits: guest poweroff,
 * crash (panic=-1 + -no-reboot), timeout, or SIGINT/SIGTERM to us (QEMU is killed).
 */
export async function runSession(
  boot: Omit<BootOptions, 'consoleLog'> & { nonce: string; timeoutSeconds: number; consoleLog: string },
  hooks: SessionHooks,
): Promise<SessionOutcome> {
  // QEMU writes a private file; it becomes `consoleLog` at the end, so concurrent runs of
  // the same kernel do not clobber each other's console while running.
  const privateLog = `${boot.consoleLog}.${boot.nonce}`;
  const started = performance.now();
  const guest = startQemu({ ...boot, consoleLog: privateLog });
  const outcome: SessionOutcome = { done: false, missing: [], qemuStderr: '', console: '' };
  let commandStarted = 0;

  guest.stderr.on('data', (chunk: Buffer) => {
    if (outcome.qemuStderr.length < 4096) outcome.qemuStderr += chunk.toString('utf8');
  });
  const channel = new GuestChannel(boot.nonce, {
    output: hooks.output,
    up: (thp) => {
      outcome.bootSeconds = secondsSince(started);
      outcome.thp = thp;
      commandStarted = performance.now();
      hooks.up(outcome.bootSeconds, thp);
    },
    exit: (status) => {
      outcome.exitStatus = status;
      outcome.commandSeconds = secondsSince(commandStarted);
    },
    missing: (p) => outcome.missing.push(p),
    collected: (base64, files, tarStatus) => {
      outcome.collected = { base64, files, tarStatus };
    },
    done: () => {
      outcome.done = true;
    },
  });
  guest.channel.on('data', (chunk: Buffer) => channel.push(chunk));

  const stop = (message: string, exitCode: number) => {
    outcome.stopped ??= { message, exitCode };
    guest.child.kill('SIGTERM');
    setTimeout(() => guest.child.kill('SIGKILL'), 3000).unref();
  };
  const timer = setTimeout(() => stop(`lab: timed out after ${boot.timeoutSeconds} s`, EXIT_TIMEOUT), boot.timeoutSeconds * 1000);
  const onSignal = (signal: NodeJS.Signals) => stop(`lab: interrupted by ${signal}`, signal === 'SIGINT' ? 130 : 143);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    outcome.spawnError = await new Promise<Error | undefined>((resolve) => {
      guest.child.once('error', resolve);
      // 'close' comes after the serial pipe has drained, so every marker has been parsed.
      guest.child.once('close', () => resolve(undefined));
    });
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  try {
    outcome.console = fs.readFileSync(privateLog, 'utf8').replace(/\r/g, '').replace(/\n+$/, '');
    fs.renameSync(privateLog, boot.consoleLog);
  } catch {
    // QEMU never started
  }
  return outcome;
}
