import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PAGE_SIZE } from '../../src/kernel/info.js';

/** Where `make -C workloads` puts the C targets. */
export const WORKLOAD_BIN = fileURLToPath(new URL('../../workloads/bin/', import.meta.url));
export const WORKLOAD_DIR = fileURLToPath(new URL('../../workloads/', import.meta.url));

export interface TargetRegion {
  name: string;
  start: bigint;
  size: number;
  startPage: number;
  pages: number;
}

/** Pages written in one phase, as absolute page numbers (the target's own truth). */
export type Truth = Set<number>;

/**
 * Driver for a ground-truth target (workloads/README.md): one JSON line per command, lockstep.
 * The truth comes from the target's replies, never from the tracker.
 */
export class Target {
  private readonly lines: AsyncIterator<string>;
  private readonly rl: Interface;
  regions: TargetRegion[] = [];
  ready: Record<string, unknown> = {};
  stderr = '';

  private constructor(readonly child: ChildProcess, readonly label: string) {
    this.rl = createInterface({ input: child.stdout! });
    this.lines = this.rl[Symbol.asyncIterator]();
    child.stderr!.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-4000); });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /**
   * Spawn a C target by name (workloads/bin/NAME) or a Node one (a path ending in .mjs), and wait for `ready`.
   * `detached`: in a session of its own (CRIU refuses to dump a tree whose session leader is outside it).
   */
  static async spawn(name: string, args: string[] = [], detached = false): Promise<Target> {
    const options = { stdio: ['pipe', 'pipe', 'pipe'] as Array<'pipe'>, detached };
    const child = name.endsWith('.mjs')
      ? spawn(process.execPath, [WORKLOAD_DIR + name, ...args], options)
      : spawn(WORKLOAD_BIN + name, args, options);
    const t = new Target(child, `${name} ${args.join(' ')}`);
    const ready = await t.next();
    if (ready.event !== 'ready') throw new Error(`${t.label}: expected a ready line, got ${JSON.stringify(ready)}`);
    t.ready = ready;
    t.setRegions(ready.regions as Array<{ name: string; start: string; size: number }>);
    return t;
  }

  private setRegions(list: Array<{ name: string; start: string; size: number }>): void {
    this.regions = list.map((r) => {
      const start = BigInt(r.start);
      return { name: r.name, start, size: r.size, startPage: Number(start / BigInt(PAGE_SIZE)), pages: Math.floor(r.size / PAGE_SIZE) };
    });
  }

  region(name = 'main'): TargetRegion {
    const r = this.regions.find((x) => x.name === name);
    if (!r) throw new Error(`${this.label}: no region ${name}`);
    return r;
  }

  /** The next line the target prints (throws once it has exited). */
  async next(): Promise<Record<string, any>> {
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`${this.label}: exited (code ${this.child.exitCode}); stderr: ${this.stderr.trim()}`);
    return JSON.parse(value);
  }

  /** Send one command and return its one reply line as it is, errors included. */
  async reply(line: string): Promise<Record<string, any>> {
    this.child.stdin!.write(line + '\n');
    return this.next();
  }

  /** Send one command and wait for its one reply line; an error reply throws. */
  async command(line: string): Promise<Record<string, any>> {
    const reply = await this.reply(line);
    if (reply.event === 'error') throw new Error(`${this.label}: '${line}' failed: ${reply.message}`);
    if (Array.isArray(reply.regions)) this.setRegions(reply.regions);
    return reply;
  }

  /** Absolute page numbers a `wrote` reply names. */
  truthOf(reply: Record<string, any>): Truth {
    const truth: Truth = new Set();
    for (const w of (reply.writes ?? []) as Array<{ region: string; pages: number[] }>) {
      const base = this.region(w.region).startPage;
      for (const p of w.pages) truth.add(base + p);
    }
    return truth;
  }

  /** Run one write phase and return its truth. */
  async write(command = 'write'): Promise<Truth> {
    const reply = await this.command(command);
    if (reply.event !== 'wrote') throw new Error(`${this.label}: expected wrote, got ${JSON.stringify(reply)}`);
    return this.truthOf(reply);
  }

  async exit(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin!.end('exit\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    this.rl.close();
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
