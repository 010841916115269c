import { PAGE_SIZE } from '../../src/kernel/info.js';
import { Target } from './target.js';

/** One process's writes in a phase: absolute virtual pages, and the shared object's pages (offsets). */
export interface ProcTruth {
  pid: number;
  /** Every page it stored to, as virtual page numbers in its own address space (main and shm). */
  pages: Set<number>;
  /** Its stores to the shared memfd, as page offsets in the memfd. */
  shared: Set<number>;
  /** Where its regions are (an exec moves them). */
  regions: Record<string, { startPage: number; pages: number }>;
}

type Region = { name: string; start: string; size: number };

function regionsOf(list: Region[]): ProcTruth['regions'] {
  return Object.fromEntries(list.map((r) => [r.name, { startPage: Number(BigInt(r.start) / BigInt(PAGE_SIZE)), pages: r.size / PAGE_SIZE }]));
}

/**
 * Driver for workloads/bin/family (workloads/README.md, "family"): a root and forked children writing
 * private copy-on-write pages and one shared memfd; each phase returns every process's own truth.
 */
export class Family {
  private constructor(readonly root: Target) {}

  static async spawn(args: string[], detached = false): Promise<Family> {
    return new Family(await Target.spawn('family', args, detached));
  }

  get pid(): number {
    return this.root.pid;
  }

  /** Pids at start: the root, then the children. */
  get procs(): number[] {
    return this.root.ready.procs as number[];
  }

  async write(): Promise<ProcTruth[]> {
    const reply = await this.root.command('write');
    if (reply.event !== 'wrote') throw new Error(`family: expected wrote, got ${JSON.stringify(reply)}`);
    return (reply.procs as Array<{ pid: number; regions: Region[]; writes: Array<{ region: string; pages: number[] }>; error?: string }>).map((p) => {
      if (p.error) throw new Error(`family: a child failed: ${p.error}`);
      const regions = regionsOf(p.regions);
      const pages = new Set<number>();
      const shared = new Set<number>();
      for (const w of p.writes) for (const i of w.pages) {
        pages.add(regions[w.region].startPage + i);
        if (w.region === 'shm') shared.add(i);
      }
      return { pid: p.pid, pages, shared, regions };
    });
  }

  async fork(): Promise<number> {
    return (await this.root.command('fork')).pid as number;
  }

  async exitChild(pid: number): Promise<void> {
    await this.root.command(`exit-child ${pid}`);
  }

  async execChild(pid: number): Promise<void> {
    await this.root.command(`exec-child ${pid}`);
  }

  exit(): Promise<void> {
    return this.root.exit();
  }
}
