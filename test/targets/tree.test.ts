// Process-tree parsing against captured /proc files, and the live tree of a real fork chain.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { descendantsFrom, parseChildren, treePids, treeSource } from '../../src/targets/tree.js';
import { parseStat, PF_KTHREAD } from '../../src/proc/process.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/proc/${name}`, import.meta.url), 'utf8');

describe('parseStat', () => {
  it('reads a comm holding ") (" and spaces up to the last parenthesis', () => {
    const s = parseStat(fixture('stat-odd-comm.txt'));
    expect(s).toMatchObject({ pid: 25302, comm: 'odd) (na me', state: 'S', ppid: 25261, startTime: 67666 });
    expect(s.flags & PF_KTHREAD).toBe(0);
  });
  it('marks a kernel thread by PF_KTHREAD', () => {
    const s = parseStat(fixture('stat-kthreadd.txt'));
    expect(s).toMatchObject({ pid: 2, comm: 'kthreadd', ppid: 0 });
    expect(s.flags & PF_KTHREAD).not.toBe(0);
  });
  it('reads a zombie\'s state', () => {
    expect(parseStat(fixture('stat-zombie.txt'))).toMatchObject({ pid: 25238, state: 'Z', ppid: 25191 });
  });
  it('refuses text without a comm', () => {
    expect(() => parseStat('12 S 1')).toThrow(/unparsable stat/);
  });
});

describe('descendantsFrom', () => {
  const edges = fixture('ps-tree.txt').trim().split('\n').map((l) => {
    const [pid, ppid] = l.split(' ').map(Number);
    return { pid, ppid };
  });
  it('walks children, grandchildren and deeper, root first', () => {
    expect(descendantsFrom(100, edges)).toEqual([100, 101, 102, 103, 104, 300]);
    expect(descendantsFrom(105, edges)).toEqual([105, 106]);
    expect(descendantsFrom(999, edges)).toEqual([999]);
  });
  it('survives a cycle from racing reads (a reused pid seen as its own ancestor)', () => {
    expect(descendantsFrom(1, [{ pid: 5, ppid: 1 }, { pid: 6, ppid: 5 }, { pid: 5, ppid: 6 }, { pid: 1, ppid: 6 }])).toEqual([1, 5, 6]);
  });
  it('parses a children file', () => {
    expect(parseChildren('16701 16702 \n')).toEqual([16701, 16702]);
    expect(parseChildren('')).toEqual([]);
  });
});

describe('the live tree', () => {
  it('follows a shell, its child and grandchild, and keeps an orphan after its parent exits', async () => {
    // sh → (sh → sleep): the middle shell exits after 0.5 s, leaving its sleep an orphan (reparented).
    const root = spawn('sh', ['-c', '(sleep 30 & sleep 0.5; exit 0) & sleep 30'], { stdio: 'ignore' });
    let first: number[] = [];
    try {
      await delay(250);
      const source = treeSource(root.pid!);
      first = source.pids();
      expect(first[0]).toBe(root.pid);
      expect(first).toHaveLength(5); // sh, its sleep, the sub-shell, the sub-shell's two children
      expect(treePids(root.pid!).sort()).toEqual([...first].sort());
      await delay(800);
      const after = source.pids();
      const orphans = after.filter((p) => !treePids(root.pid!).includes(p));
      expect(orphans).toHaveLength(1); // the sub-shell's sleep 30, now a child of init
      expect(after).toHaveLength(3);
    } finally {
      for (const p of first) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    }
  });
});
