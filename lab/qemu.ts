import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface BootOptions {
  kernel: string;
  initrd: string;
  /** QEMU -m value, e.g. 4G. */
  memory: string;
  cpus: number;
  /** Extra kernel command line (the per-run payload). */
  append: string;
  /** File that receives the kernel console (ttyS0). */
  consoleLog: string;
}

/**
 * Kernel command line. `quiet` keeps boot chatter off the (slow, emulated) console; panics
 * still print because panic() raises the console log level. panic=-1 plus QEMU's
 * -no-reboot turn a guest crash into QEMU exiting. The guest has no other entropy source,
 * so trust the (emulated) RDRAND, or node could block in getrandom() at startup.
 */
export function kernelCommandLine(append: string): string {
  return ['console=ttyS0', 'quiet', 'panic=-1', 'random.trust_cpu=on', append].join(' ');
}

export function qemuArgs(o: BootOptions): string[] {
  return [
    '-machine', 'q35',
    '-accel', 'tcg,thread=multi',
    // All features TCG can emulate (SSE4.2, AVX2, RDRAND…) except: 5-level paging, which
    // few real machines use and which lengthens every emulated page walk; and fast
    // `rep movsb` (erms/fsrm), which TCG emulates byte by byte, so the kernel's memcpy
    // (e.g. unpacking the initramfs) ran ~1.5x slower with it.
    '-cpu', 'max,la57=off,erms=off,fsrm=off',
    '-smp', String(o.cpus),
    '-m', o.memory,
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-kernel', o.kernel,
    '-initrd', o.initrd,
    '-append', kernelCommandLine(o.append),
    // ttyS0: kernel console → a log file. ttyS1: the command's output and markers → stdout.
    '-serial', `file:${o.consoleLog}`,
    '-serial', 'stdio',
  ];
}

export interface RunningGuest {
  child: ChildProcess;
  /** Command output and protocol markers (ttyS1), see lab/guest-channel.ts. */
  channel: Readable;
  /** QEMU's own messages (e.g. "could not load kernel"). */
  stderr: Readable;
}

export function startQemu(o: BootOptions): RunningGuest {
  const child = spawn('qemu-system-x86_64', qemuArgs(o), {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { child, channel: child.stdout!, stderr: child.stderr! };
}
