/**
 * A long-lived lab guest for VM experiments: QEMU with a QMP socket and a control channel to
 * lab/vm-agent.mjs in the guest (serial ttyS2 ↔ a unix socket here), through which ground-truth
 * targets run inside the guest. Unlike `npm run lab`, the guest stays up until stop().
 * Callers hold /work/coord/lab.lock-style exclusivity themselves (TCG is expensive).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { kernels, type KernelName } from './config.js';
import { LabError, firstLine } from './errors.js';
import { GuestChannel } from './guest-channel.js';
import { ensureHostTools } from './host-tools.js';
import { ensureInitramfs } from './initramfs.js';
import { ensureKernel } from './kernel-fetch.js';
import { qemuArgs } from './qemu.js';
import { QmpClient } from './qmp.js';
import { buildProject } from './run.js';

export interface VmGuestOptions {
  kernel: KernelName;
  /** QEMU -m, e.g. 512M (the 212 MiB initramfs is unpacked into guest RAM: leave room). */
  memory: string;
  log?: (line: string) => void;
  bootTimeoutSeconds?: number;
  /** TCG threading: the lab boots with one host thread per vCPU (multi); `single` runs all vCPUs on one. */
  tcg?: 'multi' | 'single';
  /** -cpu model; default MIGRATABLE_CPU. */
  cpu?: string;
}

export interface QemuInstance {
  pid: number;
  qmp: QmpClient;
  child: ChildProcess;
  /** The guest's kernel console (ttyS0) as QEMU writes it. */
  consoleLog: string;
  /** QEMU's stderr so far (crash messages). */
  stderr(): string;
  /** Resolves when QEMU has exited. */
  exited: Promise<number | null>;
  /** quit over QMP, then SIGKILL if QEMU is still there after a second. Idempotent. */
  stop(): Promise<void>;
}

interface Prepared {
  args: string[];
  release: string;
  dir: string;
}

// QEMUs we started die with us (SIGINT, a thrown error), never left running for the next helper.
const live = new Set<ChildProcess>();
process.once('exit', () => { for (const c of live) c.kill('SIGKILL'); });

/**
 * The lab's `-cpu max` does not survive a migration under TCG with QEMU 7.2 here: every migrated guest
 * oopsed (also with pku=off and with single-threaded TCG); with Nehalem none did. Nehalem still has
 * what node needs (SSE4.2, POPCNT).
 */
export const MIGRATABLE_CPU = 'Nehalem';

const AGENT_COMMAND = 'stty -F /dev/ttyS2 raw -echo && exec node lab/vm-agent.mjs </dev/ttyS2 >/dev/ttyS2';

function spawnQemu(args: string[], dir: string, name: string, extra: string[]): QemuInstance & { channel: NodeJS.ReadableStream } {
  const qmpPath = path.join(dir, `${name}.qmp`);
  const child = spawn('qemu-system-x86_64', [
    ...args,
    '-qmp', `unix:${qmpPath},server=on,wait=off`,
    '-chardev', `socket,id=agent,path=${path.join(dir, `${name}.agent`)},server=on,wait=off`,
    '-serial', 'chardev:agent',
    ...extra,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 8192) stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  const inst = {
    pid: child.pid!,
    child,
    consoleLog: /^file:(.*)$/.exec(args.find((a) => a.startsWith('file:')) ?? '')?.[1] ?? '',
    channel: child.stdout!,
    qmp: undefined as unknown as QmpClient,
    stderr: () => stderr,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      inst.qmp?.execute('quit', undefined, 2000).catch(() => {});
      const t = setTimeout(() => child.kill('SIGKILL'), 1500);
      await exited;
      clearTimeout(t);
      inst.qmp?.close();
    },
  };
  return inst;
}

/** Kernel, initramfs and QEMU arguments shared by the source and a migration destination. */
async function prepare(o: VmGuestOptions, dir: string, nonce: string): Promise<Prepared> {
  const log = o.log ?? (() => {});
  await ensureHostTools(log);
  const kernel = await ensureKernel(kernels[o.kernel], { log });
  buildProject(log);
  const initramfs = await ensureInitramfs(log);
  const script = `LAB_NONCE=${nonce}\nLAB_COMMAND='${AGENT_COMMAND}'\nexport DIRTYTRACK_LAB=${o.kernel}\nset --\n`;
  const args = qemuArgs({
    kernel: kernel.vmlinuz,
    initrd: initramfs.file,
    memory: o.memory,
    cpus: 2,
    append: `dtlab=${Buffer.from(script).toString('base64')}`,
    consoleLog: path.join(dir, 'console.log'),
  });
  const accel = args.indexOf('tcg,thread=multi');
  if (o.tcg === 'single' && accel >= 0) args[accel] = 'tcg,thread=single';
  args[args.indexOf('-cpu') + 1] = o.cpu ?? MIGRATABLE_CPU;
  return { args, release: kernel.release, dir };
}

/** The control channel to lab/vm-agent.mjs. */
export class Agent {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly ready: Promise<void>;

  constructor(private readonly socket: net.Socket) {
    let onReady!: () => void;
    this.ready = new Promise((r) => (onReady = r));
    createInterface({ input: socket }).on('line', (line) => {
      let msg: { id?: number; ok?: boolean; reply?: unknown; error?: string; event?: string };
      try {
        msg = JSON.parse(line);
      } catch {
        return; // guest noise on the port before the agent started
      }
      if (msg.event === 'agent-ready') return onReady();
      const w = msg.id !== undefined ? this.waiting.get(msg.id) : undefined;
      if (!w) return;
      this.waiting.delete(msg.id!);
      if (msg.ok) w.resolve(msg.reply);
      else w.reject(new LabError(`vm agent: ${msg.error}`));
    });
    socket.on('close', () => {
      for (const w of this.waiting.values()) w.reject(new LabError('vm agent: channel closed (guest gone?)'));
      this.waiting.clear();
    });
  }

  whenReady(timeoutMs: number): Promise<void> {
    return withTimeout(this.ready, timeoutMs, 'the guest agent did not start');
  }

  request<T>(req: Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
    const id = this.nextId++;
    const p = new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(JSON.stringify({ ...req, id }) + '\n');
    });
    return withTimeout(p, timeoutMs, `vm agent: no reply to ${String(req.op)}`);
  }

  /** Starts a target (e.g. workloads/bin/rate-writer) in the guest; returns its ready line. */
  spawn(argv: string[]): Promise<{ pid: number; ready: Record<string, unknown> }> {
    return this.request({ op: 'spawn', argv });
  }

  /** One protocol command to the target; its one-line reply. */
  send<T = Record<string, unknown>>(line: string): Promise<T> {
    return this.request({ op: 'send', line });
  }

  sh(cmd: string): Promise<{ status: number; stdout: string; stderr: string }> {
    return this.request({ op: 'sh', cmd });
  }

  close(): void {
    this.socket.destroy();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(new LabError(`${what} within ${ms / 1000} s`)), ms)))]).finally(() => clearTimeout(t));
}

async function connectUnix(p: string, timeoutMs: number): Promise<net.Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect(p, () => resolve(s));
        s.once('error', reject);
      });
    } catch (err) {
      if (Date.now() > deadline) throw new LabError(`cannot connect to ${p}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export interface VmGuest extends QemuInstance {
  agent: Agent;
  kernelRelease: string;
  bootSeconds: number;
  /** Guest output on ttyS1 (the agent's stderr), for diagnostics. */
  output(): string;
  /** A second QEMU with the same machine, waiting for a migration on 127.0.0.1:port. */
  startDestination(port: number): Promise<QemuInstance>;
}

/** Boots a guest with the agent running; stop() it (also on failure paths). */
export async function bootVmGuest(o: VmGuestOptions): Promise<VmGuest> {
  const log = o.log ?? (() => {});
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dirtytrack-vm-'));
  const nonce = crypto.randomBytes(8).toString('hex');
  const prep = await prepare(o, dir, nonce);
  const started = performance.now();
  const inst = spawnQemu(prep.args, dir, 'src', []);
  let output = '';
  let up!: () => void;
  const isUp = new Promise<void>((r) => (up = r));
  const channel = new GuestChannel(nonce, {
    output: (c) => { output = (output + c.toString()).slice(-16_000); },
    up: () => up(),
    exit: (s) => { output += `\n[agent exited ${s}]\n`; },
    missing: () => {},
    collected: () => {},
    done: () => {},
  });
  inst.channel.on('data', (c: Buffer) => channel.push(c));
  const fail = async (err: unknown): Promise<never> => {
    await inst.stop();
    const reason = firstLine(inst.stderr()) || (err as Error).message;
    throw new LabError(`vm guest (${o.kernel}, -m ${o.memory}) failed to boot: ${reason}; console: ${path.join(dir, 'console.log')}`);
  };
  try {
    inst.qmp = await QmpClient.connect(path.join(dir, 'src.qmp'));
    const agentSocket = await connectUnix(path.join(dir, 'src.agent'), 10_000);
    const agent = new Agent(agentSocket);
    const timeoutMs = (o.bootTimeoutSeconds ?? 120) * 1000;
    await withTimeout(Promise.race([isUp, inst.exited.then(() => { throw new Error('QEMU exited'); })]), timeoutMs, 'guest not up');
    const bootSeconds = Math.round((performance.now() - started) / 100) / 10;
    await agent.whenReady(30_000);
    log(`vm: ${o.kernel} guest up after ${bootSeconds} s (QEMU pid ${inst.pid}, -m ${o.memory})`);
    const stop = inst.stop;
    return Object.assign(inst, {
      agent,
      kernelRelease: prep.release,
      bootSeconds,
      output: () => output,
      async stop() {
        agent.close();
        await stop();
      },
      async startDestination(port: number): Promise<QemuInstance> {
        const dst = spawnQemu(prep.args.map((a) => a.replace(/console\.log$/, 'console-dst.log')), dir, `dst${port}`, ['-incoming', `tcp:127.0.0.1:${port}`]);
        try {
          dst.qmp = await QmpClient.connect(path.join(dir, `dst${port}.qmp`));
        } catch (err) {
          await dst.stop();
          throw new LabError(`migration destination did not start: ${firstLine(dst.stderr()) || (err as Error).message}`);
        }
        return dst;
      },
    });
  } catch (err) {
    return fail(err);
  }
}

/** A TCP port free on 127.0.0.1 right now (for -incoming). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
