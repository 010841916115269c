// The CLI on a real process group: scan --json's group object against the truth the processes report,
// watch --json's per-process rows, and the documented exit codes.
import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findCgroup } from '../../src/targets/cgroup.js';
import { Family } from '../../experiments/lib/family.js';
import { hex } from '../../src/kernel/info.js';
import { dirtytrack } from '../helpers/cli.js';

const families: Family[] = [];
afterEach(async () => { for (const f of families.splice(0)) await f.exit(); });

const PAGE = 4096;

describe('dirtytrack on a group', () => {
  it('scan --json --tree: one single-pid object per process, the total with shared pages once, as written', async () => {
    const f = await Family.spawn(['--pages', '256', '--count', '30', '--shared-pages', '64', '--shared-count', '20', '--children', '2', '--seed', '3']);
    families.push(f);
    expect((await dirtytrack('clear', '--tree', String(f.pid))).code).toBe(0);
    const truth = await f.write();
    const r = await dirtytrack('scan', '--tree', String(f.pid), '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(['processes', 'dirtyPages', 'sharedPagesMerged', 'skipped']);
    expect(out.processes.map((p: { pid: number }) => p.pid).sort()).toEqual(f.procs.slice().sort());
    expect(out.skipped).toEqual([]);
    for (const t of truth) {
      const p = out.processes.find((x: { pid: number }) => x.pid === t.pid);
      expect(Object.keys(p)).toEqual(['pid', 'kernel', 'backend', 'pageSize', 'dirtyPages', 'scanMs', 'regions', 'skipped']);
      const found = new Set<number>();
      for (const reg of p.regions) for (const [a, b] of reg.dirty as string[][]) {
        for (let page = Number(BigInt(a) / BigInt(PAGE)); page < Number(BigInt(b) / BigInt(PAGE)); page++) {
          if (Object.values(t.regions).some((x) => page >= x.startPage && page < x.startPage + x.pages)) found.add(page);
        }
      }
      expect([...found].sort()).toEqual([...t.pages].sort());
    }
    const sharedWritten = truth.reduce((a, t) => a + t.shared.size, 0);
    const sharedUnion = new Set(truth.flatMap((t) => [...t.shared])).size;
    expect(sharedWritten - sharedUnion).toBeGreaterThan(0);
    expect(out.sharedPagesMerged).toBe(sharedWritten - sharedUnion);
    expect(out.dirtyPages).toBe(out.processes.reduce((a: number, p: { dirtyPages: number }) => a + p.dirtyPages, 0) - out.sharedPagesMerged);
  });

  it('scan --region shared reads only the memfd; single-pid output keeps its shape', async () => {
    const f = await Family.spawn(['--pages', '64', '--count', '5', '--shared-pages', '32', '--shared-count', '4', '--children', '1']);
    families.push(f);
    const r = await dirtytrack('scan', String(f.pid), '--region', 'shared', '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.pid).toBe(f.pid);
    expect(out.regions.map((x: { start: string }) => x.start)).toEqual([hex(BigInt(Object.values(f.root.regions).find((x) => x.name === 'shm')!.start))]);
  });

  it('watch --json over pids: per-process rows each round, members in the summary', async () => {
    const f = await Family.spawn(['--pages', '64', '--count', '5', '--shared-pages', '32', '--shared-count', '4', '--children', '1']);
    families.push(f);
    const r = await dirtytrack('watch', ...f.procs.map(String), '--json', '--interval', '50ms', '--max-rounds', '3');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(4);
    for (const round of lines.slice(0, 3)) {
      expect(round.processes.map((p: { pid: number }) => p.pid)).toEqual(f.procs);
      for (const p of round.processes) expect(Object.keys(p)).toEqual(['pid', 'dirtyPages', 'newPages']);
    }
    expect(lines[3]).toMatchObject({ done: true, group: `pids ${f.procs.join(' ')}`, skipped: [] });
    expect(lines[3].processes.map((p: { state: string }) => p.state)).toEqual(['tracked', 'tracked']);
  });

  it('clear and scan --cgroup on a real cgroup v2 group, named relative to the mount', async () => {
    const f = await Family.spawn(['--pages', '128', '--count', '10', '--shared-pages', '32', '--shared-count', '8', '--children', '2']);
    families.push(f);
    const name = `dirtytrack-cli-${process.pid}`;
    const dir = join(findCgroup('/'), name);
    mkdirSync(dir);
    try {
      for (const pid of f.procs) writeFileSync(join(dir, 'cgroup.procs'), String(pid));
      const cleared = await dirtytrack('clear', '--cgroup', name);
      expect(cleared.code).toBe(0);
      expect(cleared.stderr).toMatch(new RegExp(`^cleared 3 processes of cgroup ${dir} \\(backend `));
      const truth = await f.write();
      const r = await dirtytrack('scan', '--cgroup', name, '--json', '--region', 'anon');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.processes.map((p: { pid: number }) => p.pid).sort()).toEqual(f.procs.slice().sort());
      // --region anon: main (private anonymous) only, not the memfd; each process found exactly its main pages
      for (const t of truth) {
        const p = out.processes.find((x: { pid: number }) => x.pid === t.pid);
        const main = t.regions.main;
        const found = new Set<number>();
        for (const reg of p.regions) for (const [a, b] of reg.dirty as string[][]) {
          for (let page = Number(BigInt(a) / 4096n); page < Number(BigInt(b) / 4096n); page++) if (page >= main.startPage && page < main.startPage + main.pages) found.add(page);
        }
        expect([...found].sort()).toEqual([...t.pages].filter((x) => x >= main.startPage && x < main.startPage + main.pages).sort());
        expect(p.regions.some((reg: { path: string }) => reg.path.startsWith('/memfd:'))).toBe(false);
      }
      expect(out.sharedPagesMerged).toBe(0); // the memfd was not read
    } finally {
      await f.exit();
      families.splice(0);
      rmdirSync(dir);
    }
  });

  it('exit codes: a missing cgroup is 2 and names it; no process that can be tracked is 3', async () => {
    const missing = await dirtytrack('scan', '--cgroup', 'no/such/group');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^dirtytrack: no such cgroup: 'no\/such\/group' \(looked for \/.*\/no\/such\/group\)/);
    const none = await dirtytrack('watch', '4194301', '4194302');
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/no process of pids 4194301 4194302 can be tracked/);
    expect((await dirtytrack('scan', '1', '--tree', '1')).code).toBe(2);
    const notQemu = await dirtytrack('scan', String(process.pid), '--vm');
    expect(notQemu.code).toBe(2);
    expect(notQemu.stderr).toMatch(new RegExp(`^dirtytrack: --vm: process ${process.pid} is not QEMU`));
    expect((await dirtytrack('clear', '1', '--region', 'heap')).code).toBe(2);
  });
});
