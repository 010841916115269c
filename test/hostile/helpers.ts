// Shared by the hostile-target tests: spawn workloads/hostile/ targets and check them afterwards.
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { expect } from 'vitest';
import type { Target } from '../../experiments/lib/target.js';
import { isAlive, memDir, tracerOf } from '../../src/proc/process.js';
import { PAGE_SIZE } from '../../src/kernel/info.js';
import type { ScanResult } from '../../src/types.js';
import { openBackend } from '../../src/backends/select.js';
import { spawnTarget } from '../native/helpers.js';

export { exitAll, processState, sleep } from '../native/helpers.js';

/** Spawn workloads/bin/hostile-NAME (built if missing); exitAll() cleans up. */
export function spawnHostile(name: string, args: string[] = []): Promise<Target> {
  return spawnTarget(`hostile-${name}`, args);
}

/** Inode numbers of the userfaultfds `pid` holds. */
export function uffdInodes(pid: number): number[] {
  const out: number[] = [];
  const dir = `${memDir(pid)}/fd`; // a live thread's when the leader has exited
  for (const fd of readdirSync(dir)) {
    try {
      if (readlinkSync(`${dir}/${fd}`) === 'anon_inode:[userfaultfd]') out.push(statSync(`${dir}/${fd}`).ino);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** The target is alive (some thread runs), not traced, and its own check finds its memory as it wrote it. */
export async function expectUnharmed(t: Target, check = 'check'): Promise<void> {
  expect(isAlive(t.pid)).toBe(true);
  expect(tracerOf(t.pid)).toBe(0);
  const reply = await t.command(check);
  expect(reply).toMatchObject({ event: 'ok', cmd: 'check', intact: true, bad: 0 });
}

/** Pages of a scan inside the target's region `main`, as absolute page numbers. */
export function pagesIn(t: Target, scan: ScanResult, name = 'main'): Set<number> {
  const r = t.region(name);
  const out = new Set<number>();
  for (const { runs } of scan.regions) {
    for (let i = 0; i < runs.length; i += 2) {
      for (let p = runs[i]; p < runs[i + 1]; p++) if (p >= r.startPage && p < r.startPage + r.pages) out.add(p);
    }
  }
  return out;
}

/** Pages inside the target's region `name` that a `scan --json` output names, as absolute page numbers. */
export function jsonPagesIn(t: Target, json: { regions: Array<{ dirty: string[][] }> }, name = 'main'): Set<number> {
  const r = t.region(name);
  const out = new Set<number>();
  for (const reg of json.regions) {
    for (const [s, e] of reg.dirty) {
      for (let p = Number(BigInt(s) / BigInt(PAGE_SIZE)); p < Number(BigInt(e) / BigInt(PAGE_SIZE)); p++) if (p >= r.startPage && p < r.startPage + r.pages) out.add(p);
    }
  }
  return out;
}

/** Track `t` with uffd-wp for three write phases: each scan equals the target's truth; close() leaves nothing. */
export async function expectTrackedExactly(t: Target): Promise<void> {
  const b = openBackend(t.pid, 'uffd-wp');
  try {
    b.clear();
    for (let i = 0; i < 3; i++) {
      const truth = await t.write();
      expect(pagesIn(t, b.scan({ reset: true }))).toEqual(truth);
    }
  } finally {
    b.close();
  }
  expect(uffdInodes(t.pid)).toEqual([]);
  await expectUnharmed(t);
}
