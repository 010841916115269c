import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { cbin } from './cbin.js';

export interface BigTargetOptions {
  regionPages: number;
  regions?: number;
  gapBytes?: number;
  /** Touch page i of each region when i % populateEvery === 0; 0 touches none. */
  populateEvery?: number;
  /** Touch runs of this many pages (default 1): page i is touched when (i / run) % every === 0. */
  populateRun?: number;
}

export interface Ready {
  pid: number;
  regions: number;
  regionPages: number;
  first: string;
  spanEnd: string;
  mappedPages: number;
  populatedPages: number;
}

/** Driver for bench/big-target.c: a process with a large, partly touched address space. */
export class BigTarget {
  private readonly rl: Interface;
  private readonly lines: AsyncIterator<string>;
  private stderr = '';
  ready!: Ready;

  private constructor(readonly child: ChildProcess) {
    this.rl = createInterface({ input: child.stdout! });
    this.lines = this.rl[Symbol.asyncIterator]();
    child.stderr!.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-2000); });
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async spawn(o: BigTargetOptions): Promise<BigTarget> {
    const args = ['--region-pages', String(o.regionPages), '--regions', String(o.regions ?? 1), '--populate-every', String(o.populateEvery ?? 0)];
    if (o.gapBytes !== undefined) args.push('--gap-bytes', String(o.gapBytes));
    if (o.populateRun !== undefined) args.push('--populate-run', String(o.populateRun));
    const t = new BigTarget(spawn(cbin('big-target'), args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    const r = await t.next();
    if (r.event !== 'ready') throw new Error(`big-target: expected ready, got ${JSON.stringify(r)}`);
    t.ready = r as unknown as Ready;
    return t;
  }

  private async next(): Promise<Record<string, any>> {
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`big-target exited (code ${this.child.exitCode}): ${this.stderr.trim()}`);
    return JSON.parse(value);
  }

  /** Store once to every `every`-th populated page; returns how many pages were written. */
  async write(every: number): Promise<number> {
    this.child.stdin!.write(`write ${every}\n`);
    const r = await this.next();
    if (r.event !== 'wrote') throw new Error(`big-target: expected wrote, got ${JSON.stringify(r)}`);
    return r.pages;
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
}

/** Spawn, run fn, always exit. */
export async function withBigTarget<T>(o: BigTargetOptions, fn: (t: BigTarget) => Promise<T> | T): Promise<T> {
  const t = await BigTarget.spawn(o);
  try {
    return await fn(t);
  } finally {
    await t.exit();
  }
}
