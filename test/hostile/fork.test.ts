// Issue 9 §2: a child forked from a tracked process inherits its userfaultfd, whose every ioctl acts
// on the parent's memory. It is never used, unregistered or closed for the child; the child gets its
// own tracking; the parent's tracking stays exactly as it was. Both are checked against their truth.
import { afterEach, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backends/select.js';
import { findTrackerUffds, trackerUffds } from '../../src/backends/uffd-wp/target-fd.js';
import { dirtytrack } from '../helpers/cli.js';
import { exitAll, expectUnharmed, jsonPagesIn, pagesIn, spawnHostile, uffdInodes } from './helpers.js';

afterEach(exitAll);

/** A fork-writer tracked (armed and released, as `dirtytrack clear` leaves it) before it forks. */
async function trackedThenForked() {
  const p = await spawnHostile('fork-writer', ['--pages', '96']);
  const pb = openBackend(p.pid, 'uffd-wp');
  pb.clear();
  pb.release();
  const parentUffd = uffdInodes(p.pid);
  expect(parentUffd).toHaveLength(1);
  const child = (await p.command('fork')).child as number;
  expect(uffdInodes(child)).toEqual(parentUffd); // inherited
  return { p, child, parentUffd };
}

describe('fork: a child is its own process', () => {
  it('the inherited descriptor is recognised as the parent\'s; the child is tracked on its own; the parent\'s tracking is intact', async () => {
    const { p, child, parentUffd } = await trackedThenForked();
    expect(trackerUffds(child).map((u) => u.own)).toEqual([false]);
    expect(findTrackerUffds(child)).toEqual([]);
    expect(findTrackerUffds(p.pid)).toHaveLength(1);

    const parentTruth = await p.write(); // the parent writes after the fork: its tracking must see exactly this

    const cb = openBackend(child, 'uffd-wp');
    try {
      expect((cb as { created?: boolean }).created).toBe(true);
      cb.clear();
      for (let i = 0; i < 3; i++) {
        const truth = await p.write('child-write');
        expect(pagesIn(p, cb.scan({ reset: true }))).toEqual(truth);
      }
    } finally {
      cb.close(); // as a watch of the child ends
    }
    expect(uffdInodes(child)).toEqual(parentUffd); // only its own descriptor was closed

    const pb = openBackend(p.pid, 'uffd-wp');
    try {
      expect((pb as { created?: boolean }).created).toBe(false); // the parent's own, adopted
      expect(pagesIn(p, pb.scan({ reset: true }))).toEqual(parentTruth);
      const again = await p.write();
      expect(pagesIn(p, pb.scan({ reset: true }))).toEqual(again);
    } finally {
      pb.close();
    }
    expect(uffdInodes(p.pid)).toEqual([]);
    await expectUnharmed(p);
    await expectUnharmed(p, 'child-check');
  });

  it('CLI: clear, scan, watch and detach of the child never touch the parent\'s tracking', async () => {
    const { p, child, parentUffd } = await trackedThenForked();
    const parentTruth = await p.write();

    expect((await dirtytrack('clear', String(child), '--backend', 'uffd-wp')).code).toBe(0);
    const childTruth = await p.write('child-write');
    const scan = await dirtytrack('scan', String(child), '--backend', 'uffd-wp', '--json');
    expect(scan.code).toBe(0);
    expect(jsonPagesIn(p, JSON.parse(scan.stdout))).toEqual(childTruth);
    const watch = await dirtytrack('watch', String(child), '--backend', 'uffd-wp', '--max-rounds', '1', '--interval', '50ms', '--json');
    expect(watch.code).toBe(0);
    expect(uffdInodes(child)).toEqual(parentUffd); // the watch closed the child's own at its end
    const again = await dirtytrack('detach', String(child));
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/inherited from its parent; it is the parent's tracking, left alone/);
    expect(uffdInodes(child)).toEqual(parentUffd); // the inherited copy is left alone

    const parentScan = await dirtytrack('scan', String(p.pid), '--backend', 'uffd-wp', '--json');
    expect(parentScan.code).toBe(0);
    expect(jsonPagesIn(p, JSON.parse(parentScan.stdout))).toEqual(parentTruth);
    expect((await dirtytrack('detach', String(p.pid))).code).toBe(0);
    expect(uffdInodes(p.pid)).toEqual([]);
    await expectUnharmed(p);
    await expectUnharmed(p, 'child-check');
  });

  it('a tracker that spawned its target holds copies of its descriptor, and is not taken for a parent that owns it', async () => {
    const t = await spawnHostile('fork-writer', ['--pages', '32']);
    const first = openBackend(t.pid, 'uffd-wp');
    try {
      first.clear();
      expect(findTrackerUffds(t.pid)).toHaveLength(1); // own, though this process (its parent) holds a copy
      const truth = await t.write();
      expect(pagesIn(t, first.scan({ reset: true }))).toEqual(truth);
    } finally {
      first.close();
    }
    expect(uffdInodes(t.pid)).toEqual([]);
    await expectUnharmed(t);
  });
});
